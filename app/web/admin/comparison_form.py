"""The "Compare models or prompts" form, read into the body the JSON API takes (`parse_comparison_request` then
checks it by the same rules and messages): the preset as it is (a box, ticked by default), up to four rows of a
provider with its settings as "key=value, key=value" and an optional prompt, and the models (how many male and
female at random, or their ids)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from app.comparisons.request import DEFAULT_MODELS, MAX_VARIANTS
from app.core.errors import GenerationError
from app.presets.rules import typed_form_value
from app.providers.catalog import Provider

ROWS = MAX_VARIANTS  # the form's rows for other variants (with the preset as it is, at most four in all)
MODEL_SEPARATORS = re.compile(r"[\s,;]+")


def form_defaults() -> dict[str, str]:
    """What the empty form shows: the preset as it is, ticked, and 2 male + 2 female models."""
    return {"current": "1", "male": str(DEFAULT_MODELS["male"]), "female": str(DEFAULT_MODELS["female"])}


def request_body(form: Mapping[str, str], providers: Mapping[str, Provider]) -> dict[str, Any]:
    """The JSON API's body for the form's post; a GenerationError (400) naming the row or field to fix."""
    variants: list[dict[str, Any]] = [{"current": True}] if form.get("current") else []
    for row in range(1, ROWS + 1):
        variant = row_variant(form, row, providers)
        if variant is not None:
            variants.append(variant)
    if not 2 <= len(variants) <= MAX_VARIANTS:
        raise GenerationError(
            f"Choose 2 to {MAX_VARIANTS} variants to compare; this form has {len(variants)} "
            "(the preset as it is counts as one when ticked): pick a provider in "
            + ("another row." if len(variants) < 2 else "fewer rows.")
        )
    model_ids = [m for m in MODEL_SEPARATORS.split(form.get("model_ids", "").strip()) if m]
    if model_ids:
        return {"variants": variants, "modelIds": model_ids}
    return {"variants": variants, "models": {g: count(form, g) for g in ("male", "female")}}


def row_variant(form: Mapping[str, str], row: int, providers: Mapping[str, Provider]) -> dict[str, Any] | None:
    """Row `row`'s variant, None when the row is left empty."""
    provider = form.get(f"variant-{row}-provider", "").strip()
    settings_text = form.get(f"variant-{row}-settings", "").strip()
    prompt = form.get(f"variant-{row}-prompt", "").strip()
    if not provider:
        if settings_text or prompt:
            raise GenerationError(
                f"Row {row} has settings or a prompt but no provider: choose its provider, or clear the row."
            )
        return None
    found = providers.get(provider)
    kinds = {key: spec.type for key, spec in found.settings.items()} if found else {}
    variant: dict[str, Any] = {"provider": provider, "settings": parse_settings(settings_text, kinds, row)}
    if prompt:
        variant["prompt"] = prompt
    return variant


def parse_settings(text: str, kinds: Mapping[str, str], row: int) -> dict[str, Any]:
    """`aspect_ratio=3:4, output_format=png` (each value read as its setting's type: `true`, `4`, `0.5`), or a
    JSON object; empty: the model's defaults."""
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise GenerationError(
                f'Row {row}: settings must be key=value pairs or a JSON object such as {{"seed": 4}}.'
            )
        return value
    settings: dict[str, Any] = {}
    for piece in (p.strip() for p in text.split(",")):
        key, equals, raw = piece.partition("=")
        key, raw = key.strip(), raw.strip()
        if not piece:
            continue
        if not equals or not key:
            raise GenerationError(
                f"Row {row}: {piece[:60]!r} is not a setting; write key=value, separated by commas "
                "(e.g. aspect_ratio=3:4, output_format=png)."
            )
        settings[key] = typed_form_value(kinds.get(key, "string"), raw)
    return settings


def count(form: Mapping[str, str], gender: str) -> int:
    raw = (form.get(gender) or "0").strip()
    if not raw.isdecimal() or len(raw) > 3:
        raise GenerationError(f"How many {gender} models: a whole number such as 2, got {raw[:20]!r}.")
    return int(raw)
