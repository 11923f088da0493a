"""The contract as the reference page shows it: each operation with its parameters, body and answers, and
each schema as a table of its fields, in words ("integer 1–100", "array of Example", "string or null")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")
Schema = dict[str, Any]


def ref_name(schema: Schema) -> str | None:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[1] if ref.startswith("#/components/") else None


def resolve(spec: Schema, item: Schema) -> Schema:
    """A parameter or response given by $ref, looked up in components."""
    ref = item.get("$ref")
    if not ref:
        return item
    found: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return found


def bounds(schema: Schema) -> str:
    low = schema.get("minimum", schema.get("minLength"))
    high = schema.get("maximum", schema.get("maxLength"))
    if low is None and high is None:
        return ""
    unit = " characters" if "minLength" in schema or "maxLength" in schema else ""
    if high is None:
        return f" ≥ {low}{unit}"
    return f" {low if low is not None else 0}–{high:,}{unit}"


def type_text(schema: Schema) -> str:
    """A schema in a few words; a named schema by its name (the page links it)."""
    name = ref_name(schema)
    if name:
        return name
    if "const" in schema:
        return f"always {str(schema['const']).lower()}"
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    if "oneOf" in schema:
        return " or ".join(type_text(s) for s in schema["oneOf"])
    if "allOf" in schema:
        return " and ".join(type_text(s) for s in schema["allOf"])
    kinds = schema.get("type", "any")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    words = []
    for kind in kinds:
        if kind == "array":
            words.append(f"array of {type_text(schema.get('items', {}))}")
        elif kind != "null":
            words.append(kind + (f" ({schema['format']})" if "format" in schema else "") + bounds(schema))
    return " or ".join(words) + (" or null" if "null" in kinds else "")


@dataclass
class Row:
    name: str
    where: str
    type: str
    required: bool
    description: str = ""
    link: str | None = None  # the named schema the row's type refers to


@dataclass
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    description: str
    auth: str
    parameters: list[Row] = field(default_factory=list)
    body: Row | None = None
    responses: list[Row] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return f"op-{self.operation_id}"


def link_of(schema: Schema) -> str | None:
    name = ref_name(schema) or ref_name(schema.get("items", {}))
    return f"schema-{name}" if name else None


def auth_text(spec: Schema, operation: Schema) -> str:
    security: list[dict[str, list]] = operation.get("security", spec.get("security")) or []
    names = [name for requirement in security for name in requirement]
    if not names:
        return "public"
    text = " or ".join(f"Bearer {name}" for name in names)
    return text + (" (or none when the feed is public)" if {} in security else "")


def parameter_rows(spec: Schema, items: list[Schema]) -> list[Row]:
    rows = []
    for item in items:
        p = resolve(spec, item)
        schema = p.get("schema", {})
        rows.append(
            Row(
                p["name"],
                p["in"],
                type_text(schema),
                p.get("required", False),
                p.get("description", ""),
                link_of(schema),
            )
        )
    return rows


def body_row(spec: Schema, operation: Schema) -> Row | None:
    body = operation.get("requestBody")
    if not body:
        return None
    content_type, media = next(iter(body["content"].items()))
    schema = media.get("schema", {})
    return Row("body", content_type, type_text(schema), body.get("required", False), "", link_of(schema))


def response_rows(spec: Schema, responses: Schema) -> list[Row]:
    rows = []
    for status, item in responses.items():
        answer = resolve(spec, item)
        content = answer.get("content", {})
        content_type, media = next(iter(content.items())) if content else ("", {})
        schema = media.get("schema", {})
        kind = type_text(schema) if schema else "no body"
        rows.append(Row(status, content_type, kind, True, answer.get("description", ""), link_of(schema)))
    return rows


def operations(spec: Schema) -> list[Operation]:
    found = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    operation_id=operation["operationId"],
                    summary=operation.get("summary", ""),
                    description=operation.get("description", ""),
                    auth=auth_text(spec, operation),
                    parameters=parameter_rows(spec, item.get("parameters", []) + operation.get("parameters", [])),
                    body=body_row(spec, operation),
                    responses=response_rows(spec, operation["responses"]),
                )
            )
    return found


@dataclass
class NamedSchema:
    name: str
    description: str
    summary: str  # the type in words, for a schema with no fields of its own
    fields: list[Row]

    @property
    def anchor(self) -> str:
        return f"schema-{self.name}"


def fields_of(spec: Schema, schema: Schema) -> list[Row]:
    """The fields of an object schema, with those of the schemas it extends (allOf) first."""
    rows = []
    for part in schema.get("allOf", []):
        rows += fields_of(spec, resolve(spec, part))
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        rows.append(Row(name, "", type_text(prop), name in required, prop.get("description", ""), link_of(prop)))
    return rows


def schemas(spec: Schema) -> list[NamedSchema]:
    return [
        NamedSchema(name, schema.get("description", ""), type_text(schema), fields_of(spec, schema))
        for name, schema in spec["components"]["schemas"].items()
    ]
