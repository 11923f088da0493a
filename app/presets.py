"""Validating preset fields, shared by the API, the admin forms and the CLI."""

from __future__ import annotations

from .errors import PresetError
from .models import Preset
from .providers.catalog import DEFAULT_PROVIDER, PROVIDERS, get_provider
from .safe_json import value_problem

MAX_NAME = 200
MAX_PROMPT = 10_000


def settings_problem(preset: Preset) -> str | None:
    """Why the model would refuse this stored preset's settings today (its schema may have changed), or None."""
    provider = PROVIDERS.get(preset.provider)
    if provider is None:
        return f"provider {preset.provider!r} no longer exists; choose one of {', '.join(PROVIDERS)}"
    found = provider.settings_problems(preset.settings or {})
    return "; ".join(found) or None


def apply_preset_fields(preset: Preset, body, creating: bool) -> None:
    """Check `body` ({name, prompt, provider, settings}) and copy it onto `preset`, or raise PresetError."""
    if not isinstance(body, dict):
        raise PresetError("The request body must be a JSON object with name, prompt, provider and settings.")
    problem = value_problem(body)  # NUL, unpaired surrogates, NaN / Infinity: refused on every database
    if problem:
        raise PresetError(problem.replace("in the JSON", "in the preset"))
    unknown = set(body) - {"name", "prompt", "provider", "settings"}
    if unknown:
        raise PresetError(f"Unknown field(s): {', '.join(sorted(unknown))}. Allowed: name, prompt, provider, settings.")
    for field, limit in (("name", MAX_NAME), ("prompt", MAX_PROMPT)):
        if field in body or creating:
            value = body.get(field)
            if not isinstance(value, str) or not value.strip():
                raise PresetError(f"{field} is required and must be a non-empty string.")
            if len(value) > limit:
                raise PresetError(f"{field} must be at most {limit} characters (got {len(value)}).")
            setattr(preset, field, value.strip())
    provider_name = body.get("provider", preset.provider or DEFAULT_PROVIDER)
    if not isinstance(provider_name, str) or provider_name not in PROVIDERS:
        raise PresetError(f"provider must be one of {', '.join(PROVIDERS)}.")
    provider = get_provider(provider_name)
    settings = body.get("settings", preset.settings if provider_name == preset.provider else None)
    try:
        cleaned = provider.validate_settings(settings)
    except ValueError as exc:
        raise PresetError(str(exc)) from None
    preset.provider = provider_name
    preset.settings = cleaned
