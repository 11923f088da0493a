"""Presets: the rules of a preset's fields (`rules`): name, prompt, provider and the provider's settings."""
