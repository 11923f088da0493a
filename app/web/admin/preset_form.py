"""The preset form's checks, each problem named beside its field: the same rules as the API's
(`app.presets.rules`), read per field so the form can mark every field that is wrong at once."""

from __future__ import annotations

from collections.abc import Mapping

from app import provider_rows
from app.core.errors import PresetError
from app.presets.rules import MAX_NAME, MAX_PROMPT, checked_text, fields_from_form
from app.spend import ledger
from app.web.admin.form_errors import FormErrors
from app.web.context import services


def sentence(text: str) -> str:
    """A message as a sentence of its own: capital first, one full stop."""
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."


def preset_form_errors(form: Mapping[str, str]) -> FormErrors:
    """Every problem of the posted form, by field, in the order the fields appear on the page."""
    errors = FormErrors()
    for name, label, limit in (("name", "Name", MAX_NAME), ("prompt", "Prompt", MAX_PROMPT)):
        value = form.get(name, "")
        if not value.strip():
            errors.add(name, label, f"Enter a {label.lower()}.")
            continue
        try:
            checked_text(name, value, limit)
        except PresetError as exc:
            errors.add(name, label, sentence(exc.message))
    providers = provider_rows.all_providers()
    provider = providers.get(form.get("provider", ""))
    if provider is None:
        names = ", ".join(p.display_name for p in provider_rows.active_providers().values())
        errors.add("provider", "Provider", f"Choose one of: {names}.")
        return errors
    found = provider.problems_by_setting(fields_from_form(form, providers).get("settings", {}))
    for key, spec in provider.settings.items():
        if key in found:
            errors.add(f"setting-{provider.name}-{key}", spec.title, sentence("; ".join(found[key])))
    return errors


def price_texts() -> dict[str, str]:
    """Each provider's price per image from the price settings, for beside its name ("$0.04 per image")."""
    settings = services().settings
    texts = {}
    for name in provider_rows.active_providers():
        amount = ledger.money(ledger.estimate_per_item(settings, name, offline=False))
        texts[name] = f"up to {amount} per image" if name in settings.prices_per_second else f"{amount} per image"
    return texts
