"""Validating preset fields, shared by the API, the admin forms and the CLI."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from app import provider_rows
from app.core.errors import PresetError
from app.core.safe_json import value_problem
from app.models import Preset
from app.providers.catalog import DEFAULT_PROVIDER, PROVIDERS, Provider

MAX_NAME = 200
MAX_PROMPT = 10_000
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1: escape sequences, line breaks, bells
KEPT = {"name": "", "prompt": "\t\n\r"}  # a prompt keeps its tabs and line breaks (a textarea sends \r\n)


def control_problem(field: str, value: str) -> str | None:
    """Why `value` cannot be this field: a control character would drive the terminal that prints it (an
    ESC or OSC sequence) or break the line it is listed on. None when it has none the field allows."""
    for match in CONTROL.finditer(value):
        if match.group() not in KEPT[field]:
            allowed = " (tabs and line breaks are fine)" if KEPT[field] else ""
            return (
                f"{field} must not contain control characters{allowed}: found U+{ord(match.group()):04X} at "
                f"character {match.start() + 1}."
            )
    return None


def checked_text(field: str, value: Any, limit: int) -> str:
    """The name or prompt as stored (without surrounding whitespace), or a PresetError naming the field."""
    if not isinstance(value, str) or not value.strip():
        raise PresetError(f"{field} is required and must be a non-empty string.")
    if len(value) > limit:
        raise PresetError(f"{field} must be at most {limit} characters (got {len(value)}).")
    problem = control_problem(field, value.strip())
    if problem:
        raise PresetError(problem)
    return value.strip()


def settings_problem(preset: Preset) -> str | None:
    """Why the model would refuse this stored preset's settings today (its schema may have changed), or None."""
    problem = provider_problem(preset)
    if problem:
        return problem
    provider = provider_rows.get(preset.provider)
    found = provider.settings_problems(preset.settings or {})
    return "; ".join(found) or None


def provider_problem(preset: Preset) -> str | None:
    """Why the preset cannot run on its provider (retired, or gone), naming the ones it can switch to; None
    when its provider is active."""
    provider = provider_rows.find(preset.provider)
    if provider is not None and provider.active:
        return None
    if provider is not None and provider.state == provider_rows.DISABLED:
        return turned_off(preset.provider)
    return unavailable(preset.provider, provider is not None)


def unavailable(key: str, retired: bool) -> str:
    """Why a preset cannot run on `key`, naming the providers it can switch to (display name and key)."""
    choices = ", ".join(f"{p.display_name} ({name})" for name, p in provider_rows.active_providers().items())
    what = "is retired" if retired else "no longer exists"
    return f"its provider {provider_rows.display_name(key)} ({key}) {what}; switch the preset to one of {choices}"


def turned_off(key: str) -> str:
    """Why a preset cannot use `key` while it is turned off, and how an admin turns it on."""
    return f"provider {key!r} is turned off; an admin turns it on with `flask --app wsgi providers enable {key}`"


def apply_preset_fields(preset: Preset, body: Any, creating: bool) -> None:
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
            setattr(preset, field, checked_text(field, body.get(field), limit))
    provider_name = body.get("provider", preset.provider or DEFAULT_PROVIDER)
    provider = provider_rows.find(provider_name) if isinstance(provider_name, str) else None
    if provider is not None and provider.state == provider_rows.DISABLED:
        raise PresetError(f"{turned_off(provider.name)}.", 409)
    if provider is None or not provider.active:
        raise PresetError(f"provider must be one of {', '.join(provider_rows.active_providers())}.")
    settings = body.get("settings", preset.settings if provider_name == preset.provider else None)
    if settings is not None and not isinstance(settings, dict):
        raise PresetError('settings must be a JSON object of the model\'s inputs, e.g. {"aspect_ratio": "3:4"}.')
    try:
        cleaned = provider.validate_settings(settings)
    except ValueError as exc:
        raise PresetError(str(exc)) from None
    preset.provider = provider_name
    preset.settings = cleaned


def fields_from_form(form: Mapping[str, str], providers: Mapping[str, Provider] | None = None) -> dict[str, Any]:
    """The preset form's post as the fields `apply_preset_fields` checks, so the form and the JSON body are
    answered by the same rules and messages. Only the chosen provider's `setting-<provider>-<key>` fields count
    (the form carries every provider's controls); each is read as its schema's type when it is one, and passed
    on as text otherwise, for the schema check to name (an empty field keeps the model's default). `providers`:
    where the settings' types are read (the view passes the rows; without, the seed's four)."""
    provider_name = form.get("provider", "")
    fields: dict[str, Any] = {"name": form.get("name", ""), "prompt": form.get("prompt", ""), "provider": provider_name}
    provider = (PROVIDERS if providers is None else providers).get(provider_name)
    if provider is None:
        return fields
    prefix = f"setting-{provider_name}-"
    kinds = {key: spec.type for key, spec in provider.settings.items()}
    fields["settings"] = {
        key[len(prefix) :]: typed_form_value(kinds.get(key[len(prefix) :], "string"), raw.strip())
        for key, raw in form.items()
        if key.startswith(prefix) and raw.strip() != ""
    }
    return fields


def typed_form_value(kind: str, raw: str) -> Any:
    """A form field's text as the JSON value it stands for (`true`, `42`, `0.5`), or the text itself."""
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number" and math.isfinite(value := float(raw)):
            return value
    except ValueError:
        pass
    return raw
