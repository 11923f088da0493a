"""Preset settings checked against each model's own published input schema.

Replicate publishes every model version's inputs as an OpenAPI `Input` schema. A snapshot of it
per provider lives in `schemas/<PROVIDER>.json` with where and when it was read (`flask providers
schemas --refresh` compares it with Replicate's current one). A preset's settings are the schema's
inputs minus the ones the app fills itself (the prompt, the reference photo), checked with
`jsonschema`, plus two limits the schemas leave open but the models do not: text length and the
size of whole numbers. NaN and Infinity are refused: JSON has no such numbers.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
MAX_TEXT = 2_000
INT_MIN, INT_MAX = -(2**31), 2**32 - 1  # the widest seed range Replicate's models take


@dataclass(frozen=True)
class Snapshot:
    provider: str
    model: str
    version: str | None
    source: str
    retrieved: str
    input_schema: dict

    def as_json(self) -> dict:
        return {
            "source": self.source,
            "retrieved": self.retrieved,
            "model": self.model,
            "version": self.version,
            "input_schema": self.input_schema,
        }


@dataclass(frozen=True)
class Field:
    """One setting as a form shows it."""

    name: str
    type: str
    title: str
    description: str
    enum: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    default: object = None
    max_length: int | None = None


def snapshot_path(provider: str) -> Path:
    return SCHEMA_DIR / f"{provider}.json"


@cache
def load_snapshot(provider: str) -> Snapshot:
    data = json.loads(snapshot_path(provider).read_text(encoding="utf-8"))
    return Snapshot(
        provider, data["model"], data.get("version"), data["source"], data["retrieved"], data["input_schema"]
    )


def write_snapshot(provider: str, model: str, version: str | None, source: str, input_schema: dict) -> Snapshot:
    snapshot = Snapshot(provider, model, version, source, date.today().isoformat(), input_schema)
    snapshot_path(provider).write_text(json.dumps(snapshot.as_json(), indent=2, sort_keys=False) + "\n")
    load_snapshot.cache_clear()
    return snapshot


def settings_schema(input_schema: dict, managed: frozenset[str], narrowed: dict) -> dict:
    """The inputs a preset may set: the model's inputs minus `managed`, with `narrowed` rules merged in."""
    properties = {}
    for name, spec in input_schema.get("properties", {}).items():
        if name in managed:
            continue
        spec = dict(spec)
        spec.pop("nullable", None)  # OpenAPI's, not JSON Schema's: a preset leaves a setting out instead
        spec.update(narrowed.get(name, {}))
        if spec.get("type") == "string" and "enum" not in spec:
            spec.setdefault("maxLength", MAX_TEXT)
        if spec.get("type") == "integer":
            spec["minimum"] = max(spec.get("minimum", INT_MIN), INT_MIN)
            spec["maximum"] = min(spec.get("maximum", INT_MAX), INT_MAX)
        properties[name] = spec
    return {"type": "object", "properties": properties, "additionalProperties": False}


def readable_title(name: str, title: Any) -> str:
    """The schema's title, or the key made readable where the title is the key itself (cog titles an enum
    input by its key: `aspect_ratio` reads "Aspect ratio")."""
    if isinstance(title, str) and title.strip() and title != name:
        return title.strip()
    words = name.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def fields(schema: dict) -> list[Field]:
    specs = sorted(schema["properties"].items(), key=lambda item: item[1].get("x-order", 1000))
    return [
        Field(
            name=name,
            type=spec.get("type", "string"),
            title=readable_title(name, spec.get("title")),
            description=spec.get("description", ""),
            enum=tuple(spec.get("enum", ())),
            minimum=spec.get("minimum") if spec.get("minimum") != INT_MIN else None,
            maximum=spec.get("maximum") if spec.get("maximum") != INT_MAX else None,
            default=spec.get("default"),
            max_length=spec.get("maxLength"),
        )
        for name, spec in specs
    ]


def problems(schema: dict, settings: Any, model: str) -> list[str]:
    """What is wrong with `settings`, one sentence per setting; empty when they fit."""
    if not isinstance(settings, dict):
        return ["settings must be an object of setting names and values"]
    found = problems_by_setting(schema, settings, model)
    return [f"setting {key!r} {what}" for key, whats in found.items() for what in whats]


def problems_by_setting(schema: dict, settings: dict, model: str) -> dict[str, list[str]]:
    """What is wrong with each setting ("must be at most 1 (got 99999.0)"), by its key, for a form to show
    each problem beside its field; empty when they fit."""
    found: dict[str, list[str]] = {}
    for key, value in settings.items():
        if isinstance(value, float) and not math.isfinite(value):
            found[key] = ["must be a finite number (NaN and Infinity are not numbers in JSON)"]
    clean = {k: v for k, v in settings.items() if k not in found}
    errors = sorted(Draft202012Validator(schema).iter_errors(clean), key=lambda e: list(e.path))
    for error in errors:
        if error.validator == "additionalProperties":
            accepted = ", ".join(schema["properties"]) or "none"
            for key in sorted(set(clean) - set(schema["properties"])):
                found.setdefault(key, []).append(f"is not an input of {model} (accepted: {accepted})")
        else:
            found.setdefault(str(error.path[0]) if error.path else "settings", []).append(describe(error))
    return found


# what a JSON Schema type is called in a message (a form's field and a JSON value are answered alike)
TYPE_WORDS = {
    "integer": "an integer (a whole number)",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "string": "a string (text)",
    "object": "an object",
    "array": "an array",
}


def describe(error: ValidationError) -> str:
    """What a setting may be and what it was, for an admin to act on: "must be at most 1 (got 99999.0)"."""
    got = error.instance
    shown = repr(got) if not isinstance(got, str) or len(got) <= 40 else f"a text of {len(got):,} characters"
    rule: Any = error.validator_value
    messages = {
        "enum": lambda: f"must be one of: {', '.join(map(str, rule))}",
        "type": lambda: f"must be {TYPE_WORDS.get(str(rule), rule)}",
        "minimum": lambda: f"must be at least {rule}",
        "maximum": lambda: f"must be at most {rule}",
        "maxLength": lambda: f"must be at most {rule:,} characters",
        "minLength": lambda: f"must be at least {rule} characters",
    }
    what = messages.get(str(error.validator), lambda: error.message)()
    return f"{what} (got {shown})"


def fetch_published(client: Any, model: str) -> tuple[str | None, dict, str]:
    """The model's latest published version from Replicate: (version id, its Input schema, the API address read).

    `client` is a `replicate.Client`; GET /v1/models/{owner}/{name} answers the latest version with its
    `openapi_schema`, whose `components.schemas.Input` is what a create's `input` must match."""
    found = client.models.get(model)
    version = found.latest_version
    if version is None or not version.openapi_schema:
        raise ValueError(f"Replicate lists no version with a schema for {model}")
    schema = version.openapi_schema.get("components", {}).get("schemas", {}).get("Input")
    if not isinstance(schema, dict):
        raise ValueError(f"the latest version of {model} publishes no Input schema")
    return version.id, inline_refs(schema, version.openapi_schema), f"https://api.replicate.com/v1/models/{model}"


def inline_refs(node: Any, root: dict) -> Any:
    """`node` with local `$ref`s inlined, so a snapshot stands alone.

    Cog publishes an enum input as `{"allOf": [{"$ref": "#/components/schemas/x"}], "default": …}`; the
    property's own keys win over the referenced enum's (whose description is only "An enumeration.")."""
    if isinstance(node, list):
        return [inline_refs(item, root) for item in node]
    if not isinstance(node, dict):
        return node
    own = dict(node)
    base: dict = {}
    refs = own.get("allOf")
    if "$ref" in own:
        base = inline_refs(resolve_ref(root, own.pop("$ref")), root)
    elif isinstance(refs, list) and len(refs) == 1 and isinstance(refs[0], dict) and set(refs[0]) == {"$ref"}:
        base = inline_refs(resolve_ref(root, own.pop("allOf")[0]["$ref"]), root)
    if "description" in own:
        base.pop("description", None)
    return {**base, **{key: inline_refs(value, root) for key, value in own.items()}}


def resolve_ref(root: dict, ref: str) -> dict:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references can be inlined, not {ref!r}")
    node = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def diff(old: dict, new: dict, label: str) -> list[str]:
    """Unified diff of two schemas as sorted, indented JSON (empty when they are the same)."""
    before = json.dumps(old, indent=2, sort_keys=True).splitlines()
    after = json.dumps(new, indent=2, sort_keys=True).splitlines()
    return list(difflib.unified_diff(before, after, f"{label} (snapshot)", f"{label} (Replicate now)", lineterm=""))
