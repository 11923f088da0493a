"""Presets: the rules of a preset's fields (`rules`: name, prompt, provider and the provider's settings, from a
JSON body or the form) and its writes (`service`: create, update, delete), which every door calls."""
