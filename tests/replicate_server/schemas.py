"""The models this server knows, their published input schemas, and input validation worded like Replicate's.

Each model's published schema lives in ``tests/replicate_schemas/<owner>__<name>.json``: the model as
GET /v1/models/{owner}/{name} shows it, its versions (latest first) with their openapi_schema, and where and
when the schema was read. Inputs are validated against the schema of the version a prediction runs (the
latest for an official model run by name).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema

SD_IMG2IMG = "stability-ai/stable-diffusion-img2img"

SD_IMG2IMG_VERSION = "ddd4eb440853a42c055203289a3da0c8886b0b9492fe619b1c1dbd34be160ce7"

SD_IMG2IMG_VERSION_ALIAS = "15a3689ee13b0d2616e98820eca31d4c3abcd36672df6afce5cb6feb1d66087d"

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "replicate_schemas"


def _load_models() -> dict[str, dict[str, Any]]:
    models: dict[str, dict[str, Any]] = {}
    for path in sorted(SCHEMA_DIR.glob("*__*.json")):
        spec = json.loads(path.read_text(encoding="utf-8"))
        models[f"{spec['model']['owner']}/{spec['model']['name']}"] = spec
    return models


def _kontext_extra(inp: dict) -> list[tuple[str, str, str]]:
    # Stated in the schema's description; the provider refuses it, so the fake answers 422.
    tol = inp.get("safety_tolerance")
    if inp.get("input_image") and isinstance(tol, int) and not isinstance(tol, bool) and tol > 2:
        return [
            ("input.safety_tolerance", "Must be less than or equal to 2 when input_image is provided", "number_lte")
        ]
    return []


def _sd_img2img_runtime_error(inp: dict) -> str | None:
    # The schema puts no bounds on prompt_strength; diffusers refuses it when the model runs.
    strength = inp.get("prompt_strength")
    if isinstance(strength, (int, float)) and not isinstance(strength, bool) and not 0 <= strength <= 1:
        return f"ValueError: The value of strength should in [0.0, 1.0] but is {strength}"
    return None


# Rules outside the JSON schema: extra 422 checks, and inputs that validate but fail at run time.
EXTRA_CHECKS: dict[str, Callable[[dict], list[tuple[str, str, str]]]] = {
    "black-forest-labs/flux-kontext-pro": _kontext_extra,
    "black-forest-labs/flux-kontext-max": _kontext_extra,  # the same rule, stated in its description too
}
RUNTIME_ERRORS: dict[str, Callable[[dict], str | None]] = {
    "stability-ai/stable-diffusion-img2img": _sd_img2img_runtime_error,
}

MODELS: dict[str, dict[str, Any]] = _load_models()
OFFICIAL_MODELS = tuple(name for name, spec in MODELS.items() if spec["official"])

# version hash -> model name, for POST /v1/predictions {"version": ...}. Only community models
# run by version here; stability-ai/stable-diffusion is known but none of its versions runs.
VERSIONS: dict[str, str] = {
    SD_IMG2IMG_VERSION: SD_IMG2IMG,
    SD_IMG2IMG_VERSION_ALIAS: SD_IMG2IMG,
}


def _resolve_ref(root: dict, ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $ref is supported: {ref}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref_schema(node: Any, root: dict) -> Any:
    """A copy of ``node`` with local ``$ref`` (and cog's one-item ``allOf: [{$ref}]``) inlined.

    Cog publishes enum inputs as ``{"allOf": [{"$ref": "#/components/schemas/x"}], "default": ...}``;
    inlined, the property's own keys win over the referenced enum's (its "An enumeration."
    description gives way to the property's description).
    """
    if isinstance(node, list):
        return [deref_schema(x, root) for x in node]
    if not isinstance(node, dict):
        return node
    own = dict(node)
    base: dict = {}
    if "$ref" in own:
        base = deref_schema(_resolve_ref(root, own.pop("$ref")), root)
    elif (
        isinstance(own.get("allOf"), list)
        and len(own["allOf"]) == 1
        and isinstance(own["allOf"][0], dict)
        and set(own["allOf"][0]) == {"$ref"}
    ):
        base = deref_schema(_resolve_ref(root, own.pop("allOf")[0]["$ref"]), root)
    if "description" in own:
        base.pop("description", None)
    return {**base, **{k: deref_schema(v, root) for k, v in own.items()}}


def input_schema_of(openapi_schema: dict) -> dict:
    """The self-contained (dereferenced) JSON Schema of a version's ``Input``."""
    return deref_schema(openapi_schema["components"]["schemas"]["Input"], openapi_schema)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


_URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$")
_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("uri")
def _is_uri(value: Any) -> bool:
    return not isinstance(value, str) or bool(_URI_RE.match(value))


def _nullable(check: Callable) -> Callable:
    # OpenAPI 3.0's "nullable: true" (cog's Optional inputs) lets null through.
    def wrapped(validator: Any, value: Any, instance: Any, schema: dict) -> Iterator:
        if instance is None and schema.get("nullable"):
            return
        yield from check(validator, value, instance, schema)

    return wrapped


_Validator = jsonschema.validators.extend(
    jsonschema.Draft7Validator,
    {
        "type": _nullable(jsonschema.Draft7Validator.VALIDATORS["type"]),
        "enum": _nullable(jsonschema.Draft7Validator.VALIDATORS["enum"]),
    },
)


def _num(v: float) -> str:
    return f"{v:g}"


_REQUIRED_RE = re.compile(r"^'(.+)' is a required property$")

# The messages of Replicate's gojsonschema, by jsonschema keyword: {num} is a number as Go prints it.
_WORDING: dict[str, tuple[str, str]] = {
    "minimum": ("Must be greater than or equal to {num}", "number_gte"),
    "maximum": ("Must be less than or equal to {num}", "number_lte"),
    "exclusiveMinimum": ("Must be greater than {num}", "number_gt"),
    "exclusiveMaximum": ("Must be less than {num}", "number_lt"),
    "format": ("Does not match format '{value}'", "format"),
    "minItems": ("Array must have at least {value} items", "array_min_items"),
    "maxItems": ("Array must have at most {value} items", "array_max_items"),
    "minLength": ("String length must be greater than or equal to {value}", "string_gte"),
    "maxLength": ("String length must be less than or equal to {value}", "string_lte"),
    "pattern": ("Does not match pattern '{value}'", "pattern"),
}


def _problem_of(error: jsonschema.ValidationError) -> tuple[str, str, str]:
    """One jsonschema error as Replicate words it (its API validates with gojsonschema)."""
    path = ".".join(["input", *(str(p) for p in error.absolute_path)])
    kind, value, inst = error.validator, error.validator_value, error.instance
    field = path.rsplit(".", 1)[-1]
    if kind == "required":
        m = _REQUIRED_RE.match(error.message)
        return path, f"{m.group(1) if m else error.message} is required", "required"
    if kind == "type":
        want = value if isinstance(value, str) else " or ".join(value)
        return path, f"Invalid type. Expected: {want}, given: {json_type(inst)}", "invalid_type"
    if kind == "enum":
        options = ", ".join(json.dumps(v) for v in value)
        return path, f"{field} must be one of the following: {options}", "enum"
    if kind in _WORDING:
        template, code = _WORDING[kind]
        num = _num(value) if isinstance(value, (int, float)) else value
        return path, template.format(num=num, value=value), code
    return path, error.message, str(kind)


def schema_problems(openapi_schema: dict, inp: Any) -> list[tuple[str, str, str]]:
    """(field path, message, type) for every way ``inp`` breaks the version's Input schema.

    Unknown keys are not problems: the Input schemas set no ``additionalProperties``, and
    Replicate ignores inputs a model does not declare.
    """
    if not isinstance(inp, dict):
        return [("input", f"Invalid type. Expected: object, given: {json_type(inp)}", "invalid_type")]
    root = {**openapi_schema, "$ref": "#/components/schemas/Input"}
    errors = [_problem_of(e) for e in _Validator(root, format_checker=_FORMATS).iter_errors(inp)]
    typed = {path for path, _, kind in errors if kind == "invalid_type"}
    out = []
    for problem in errors:  # a value of the wrong type gets that one message
        if (problem[2] == "invalid_type" or problem[0] not in typed) and problem not in out:
            out.append(problem)
    return sorted(out, key=lambda p: (p[0], p[1]))


def validate_input(model: str, body: dict, openapi_schema: dict | None = None) -> list[tuple[str, str, str]]:
    """Return a list of (field path, message, type) problems; empty when valid."""
    if "input" not in body:
        return [("(root)", "input is required", "required")]
    if openapi_schema is None:
        openapi_schema = MODELS[model]["versions"][0]["openapi_schema"]
    problems = schema_problems(openapi_schema, body["input"])
    if not problems and model in EXTRA_CHECKS:
        problems = EXTRA_CHECKS[model](body["input"])
    return problems
