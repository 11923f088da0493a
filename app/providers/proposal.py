"""A new provider proposed from a model's published schema: what `providers add` and the Providers page show
before the admin confirms.

A schema does not say which input carries the reference photo, whether it takes a list, or how the model is
billed, so the proposal guesses the first two (a `format: uri` input whose name says image, by the schema's
order) and takes the price rule as given; the admin confirms or corrects them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.providers import schemas
from app.providers.catalog import Provider
from app.providers.pricing import PriceRuleError, check_rule

KEY_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
MODEL_PATTERN = re.compile(r"^([a-z0-9][a-z0-9._-]*)/([a-z0-9][a-z0-9._-]*)(?::([0-9a-f]{64}))?$")
IMAGE_WORDS = ("image", "photo", "picture", "img")
SAMPLE_PROMPT = "Professional headshot, studio light"
SAMPLE_REFERENCE = "https://reference-photos.example/female_01.jpg"


class ProposalError(ValueError):
    """The model or the choices cannot make a provider; the message says why."""


@dataclass(frozen=True)
class Proposal:
    provider: Provider
    snapshot: schemas.Snapshot
    candidates: tuple[str, ...]  # every uri input whose name says image, in the schema's order

    def sample_input(self) -> dict:
        """What a prediction's input would be for a sample preset with no settings of its own."""
        return self.provider.build_input(SAMPLE_PROMPT, SAMPLE_REFERENCE, {})


def parse_model(text: str) -> tuple[str, str | None]:
    """`owner/name` or `owner/name:version` as (owner/name, version or None)."""
    match = MODEL_PATTERN.match(text.strip())
    if not match:
        raise ProposalError(f"{text!r} is not a Replicate model: write owner/name or owner/name:<64-hex version>")
    return f"{match[1]}/{match[2]}", match[3]


def default_key(model: str) -> str:
    """The model's name in upper snake case: google/nano-banana-2 → NANO_BANANA_2."""
    return re.sub(r"[^A-Z0-9]+", "_", model.split("/")[1].upper()).strip("_")


def is_uri(spec: dict) -> tuple[bool, bool]:
    """(takes a URI, as a list of them)."""
    if spec.get("type") == "array":
        items = spec.get("items") or {}
        return items.get("format") == "uri", True
    return spec.get("format") == "uri", False


def image_candidates(input_schema: dict) -> tuple[str, ...]:
    props = sorted(input_schema.get("properties", {}).items(), key=lambda item: item[1].get("x-order", 1000))
    return tuple(n for n, spec in props if is_uri(spec)[0] and any(w in n.lower() for w in IMAGE_WORDS))


def propose(
    snapshot: schemas.Snapshot,
    key: str | None = None,
    reference_field: str | None = None,
    price: dict | None = None,
    display_name: str | None = None,
    description: str = "",
) -> Proposal:
    """The provider a model's schema suggests, with the admin's choices applied; ProposalError when they do
    not fit the schema."""
    key = key or default_key(snapshot.model)
    if not KEY_PATTERN.match(key):
        raise ProposalError(f"key {key!r} must be upper snake case (A-Z, 0-9, _), at most 64 characters")
    properties = snapshot.input_schema.get("properties", {})
    if "prompt" not in properties:
        raise ProposalError(f"{snapshot.model} has no `prompt` input: the app sends each preset's prompt there")
    candidates = image_candidates(snapshot.input_schema)
    field = reference_field or (candidates[0] if candidates else None)
    if field is None:
        raise ProposalError(f"{snapshot.model} has no image URI input; name one with --reference-field")
    if field not in properties or not is_uri(properties[field])[0]:
        uris = ", ".join(n for n, spec in properties.items() if is_uri(spec)[0]) or "none"
        raise ProposalError(f"{field!r} is not a URI input of {snapshot.model} (URI inputs: {uris})")
    try:
        check_rule(price, properties)
    except PriceRuleError as exc:
        raise ProposalError(str(exc)) from None
    provider = Provider(
        name=key,
        label=f"{display_name or key} ({snapshot.model})",
        model=snapshot.model,
        image_field=field,
        image_as_list=is_uri(properties[field])[1],
        by_version=snapshot.version is not None and pinned(snapshot),
        display_name=display_name or snapshot.model.split("/")[1].replace("-", " ").title(),
        description=description,
        input_schema=snapshot.input_schema,
        price=price,
        version=snapshot.version if pinned(snapshot) else None,
    )
    return Proposal(provider, snapshot, candidates)


def pinned(snapshot: schemas.Snapshot) -> bool:
    """A snapshot fetched for owner/name:version runs that version (its source names it)."""
    return snapshot.version is not None and snapshot.source.endswith(f"/versions/{snapshot.version}")


def fetch_snapshot(client: Any, model: str, version: str | None, key: str) -> schemas.Snapshot:
    """The model's Input schema from Replicate (the latest version's, or the pinned one's), dereferenced."""
    if version is None:
        found_version, schema, source = schemas.fetch_published(client, model)
        return schemas.Snapshot(key, model, found_version, source, date.today().isoformat(), schema)
    found = client.models.get(model).versions.get(version)
    openapi = found.openapi_schema or {}
    schema = openapi.get("components", {}).get("schemas", {}).get("Input")
    if not isinstance(schema, dict):
        raise ProposalError(f"version {version} of {model} publishes no Input schema")
    source = f"https://api.replicate.com/v1/models/{model}/versions/{version}"
    return schemas.Snapshot(key, model, version, source, date.today().isoformat(), schemas.inline_refs(schema, openapi))
