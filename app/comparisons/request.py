"""What a comparison asks for: its variants and its reference models, checked for shape (whether a provider or a
model can be used is decided under the preset's lock, in `start`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.errors import GenerationError
from app.core.safe_json import value_problem
from app.jobs.submit import parse_model_ids

MIN_VARIANTS, MAX_VARIANTS = 2, 4
MAX_MODELS = 12  # a comparison is a sample: 4 variants x 12 models is 48 predictions
DEFAULT_MODELS = {"male": 2, "female": 2}
VARIANT_FIELDS = ("provider", "settings", "prompt", "current")


@dataclass(frozen=True)
class VariantRequest:
    """A provider with its settings and optionally its own prompt, or `current`: the preset as it is now."""

    provider: str | None = None
    settings: dict = field(default_factory=dict)
    prompt: str | None = None  # None: the preset's prompt
    current: bool = False


@dataclass(frozen=True)
class ComparisonRequest:
    variants: list[VariantRequest]
    model_ids: list[str] | None = None  # chosen by the admin; None: `counts` at random from the whole pool
    counts: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MODELS))


def parse_comparison_request(body: Any) -> ComparisonRequest:
    """`{"variants": [...], "modelIds": [...]}` or `{"variants": [...], "models": {"male": 2, "female": 2}}`."""
    if not isinstance(body, dict):
        raise GenerationError('The request body must be a JSON object such as {"variants": [...]}.')
    problem = value_problem(body)
    if problem:
        raise GenerationError(problem)
    unknown = set(body) - {"variants", "modelIds", "models"}
    if unknown:
        raise GenerationError(f"Unknown field(s): {', '.join(sorted(unknown))}. Allowed: variants, modelIds, models.")
    if "modelIds" in body and "models" in body:
        raise GenerationError("Give either modelIds (chosen models) or models (how many at random), not both.")
    variants = body.get("variants")
    if not isinstance(variants, list) or not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        raise GenerationError(
            f"variants must be a list of {MIN_VARIANTS} to {MAX_VARIANTS} variants, e.g. "
            '[{"current": true}, {"provider": "FLUX_KONTEXT_PRO", "settings": {}}].'
        )
    parsed = [parse_variant(v, n) for n, v in enumerate(variants)]
    if "modelIds" in body:
        model_ids = parse_model_ids(body["modelIds"])
        if len(model_ids) > MAX_MODELS:
            raise GenerationError(f"modelIds names {len(model_ids)} models; a comparison takes at most {MAX_MODELS}.")
        return ComparisonRequest(parsed, model_ids=model_ids)
    return ComparisonRequest(parsed, counts=parse_counts(body.get("models", DEFAULT_MODELS)))


def label(position: int) -> str:
    return "ABCD"[position]


def parse_variant(value: Any, position: int) -> VariantRequest:
    name = f"Variant {label(position)}"
    if not isinstance(value, dict):
        raise GenerationError(f'{name} must be an object such as {{"provider": "NANO_BANANA", "settings": {{}}}}.')
    unknown = set(value) - set(VARIANT_FIELDS)
    if unknown:
        raise GenerationError(
            f"{name}: unknown field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(VARIANT_FIELDS)}."
        )
    if value.get("current") is True:
        if set(value) != {"current"}:
            raise GenerationError(f"{name} is the preset as it is now (current): it takes no other field.")
        return VariantRequest(current=True)
    if "current" in value and value["current"] is not False:
        raise GenerationError(f"{name}: current must be true or false.")
    provider, settings, prompt = value.get("provider"), value.get("settings", {}), value.get("prompt")
    if not isinstance(provider, str) or not provider:
        raise GenerationError(f"{name}: provider is required (a provider key such as NANO_BANANA), or current: true.")
    if not isinstance(settings, dict):
        raise GenerationError(
            f'{name}: settings must be an object of the model\'s inputs, e.g. {{"aspect_ratio": "3:4"}}.'
        )
    if prompt is not None and not isinstance(prompt, str):
        raise GenerationError(f"{name}: prompt must be text (leave it out to use the preset's prompt).")
    return VariantRequest(provider, settings, prompt)


def parse_counts(value: Any) -> dict[str, int]:
    """How many male and female models to draw at random: {"male": 2, "female": 2}."""
    if not isinstance(value, dict) or set(value) - {"male", "female"}:
        raise GenerationError('models must be an object such as {"male": 2, "female": 2}.')
    counts = {}
    for gender in ("male", "female"):
        n = value.get(gender, 0)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise GenerationError(f"models.{gender} must be a whole number of models (0 or more), got {n!r}.")
        counts[gender] = n
    total = sum(counts.values())
    if not 1 <= total <= MAX_MODELS:
        raise GenerationError(f"A comparison takes 1 to {MAX_MODELS} reference models; models asks for {total}.")
    return counts
