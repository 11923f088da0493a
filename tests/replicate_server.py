"""A Replicate-compatible HTTP server for tests and benchmarks.

It speaks the parts of ``api.replicate.com`` (and ``replicate.delivery``) that the
``replicate`` 1.0.7 Python client and this project use, so the *real* client can be
pointed at it::

    with ReplicateServer(latency=0.2) as server:
        client = replicate.Client(api_token=server.token, base_url=server.url)
        prediction = client.predictions.create(model="google/nano-banana", input={...})

or, for code that builds its own client, with ``REPLICATE_BASE_URL=server.url`` and
``REPLICATE_API_TOKEN=server.token`` in the environment.

Design notes
* Standard library HTTP server (``ThreadingHTTPServer``, HTTP/1.1 keep-alive, exact
  ``Content-Length``) plus Pillow for the output images. No thread per prediction: a
  prediction's status is computed from timestamps whenever it is read.
* Every random decision comes from one ``random.Random(seed)`` guarded by a lock, and
  the rng is only consulted when the matching knob is non-zero, so a seeded,
  sequential run is repeatable.
* Knobs are plain attributes and may be changed while the server runs.

Models and input schemas
* Each model's published schema is this server's own copy in ``tests/replicate_schemas/``
  (``<owner>__<name>.json``: the model as GET /v1/models shows it, its versions, latest first,
  with their ``openapi_schema``, and the source page and date). The app keeps its own
  snapshot in ``app/providers/schemas/<PROVIDER>.json``; ``resolved_input_schema(model)``
  equals its ``input_schema`` until a test changes one of them.
* Creates are validated with ``jsonschema`` against the version's ``Input`` (422 with
  ``detail`` "- input.field: message" lines and ``invalid_fields``, worded like Replicate's
  gojsonschema); unknown input keys are accepted and listed in the create record's
  ``ignored_inputs``; NaN/Infinity in a body is a 400. ``input_schema(model)`` is the live
  schema (change it to make the server disagree), ``publish_version(model, schema)`` adds a
  new latest version. GET /v1/models/{owner}/{name}[/versions[/{id}]] are served (reads).

Account limits (Replicate: 600 creates a minute, 3000 a minute for every other API call,
short bursts tolerated; a 429 says "Request was throttled. Your rate limit resets in ~Ns."
with ``Retry-After: N``)
* ``create_limit_per_minute`` / ``create_burst``, ``read_limit_per_minute`` / ``read_burst``:
  token buckets of ``burst`` tokens (default 20) refilled at ``limit / 60`` a second, starting
  full; None (the default) turns a limit off. N is the time to the next token, rounded up,
  at least 1. A "read" is every API call but create: GET/list/cancel predictions, model and
  version reads, the webhook secret, the account (GET /v1/account, ``account``). File
  downloads (``/files/...``, replicate.delivery in reality) and ``/stream/`` are not API calls.
* ``rate_limit_per_minute`` / ``rate_window``: the older strict sliding window on accepted
  creates (no burst); ``throttle_rate`` / ``retry_after``: random create 429s. All apply.
* ``throttle_reads_for(s)`` / ``throttle_creates_for(s)`` (or ``read_throttle_until`` /
  ``create_throttle_until``, monotonic times): every read / create gets 429 until then.
* Records: ``calls`` (one ``Call(time, kind, endpoint, throttled)`` per API call),
  ``throttled`` (create 429s), ``read_throttled`` (read 429s), ``gets``, ``cancels``;
  ``call_counts()``, ``call_times(...)``, ``download_delays()`` (end of a succeeded
  prediction to the first download of its output), ``never_downloaded()``,
  ``prediction_times()``; module-level ``percentile(values, q)``.

Timing, Cancel-After
* ``latency`` (+/- ``jitter``) is a prediction's run time; ``queue_delay`` the wait before it
  starts; ``queue_delay_when(model, input)`` / ``latency_when(model, input)`` override them per
  input (return None for no override; ``math.inf`` = never starts / runs forever).
* ``Cancel-After`` on create ("30s", "5m", "1h30m45s", "300ms", plain seconds "90"; at least
  ``cancel_after_min``, 5 s like Replicate; else 400): from creation, a prediction that has not
  started by then ends ``aborted`` (no ``started_at``), a running one ``canceled``. The create
  record has ``cancel_after`` (seconds or None).

Webhooks (``webhook``, ``webhook_events_filter`` (default: all of start, output, logs,
completed), ``webhook_completed`` on create)
* Delivered by POST from a scheduler thread when the event happens; the body is the prediction
  JSON; signed like Replicate (Standard Webhooks): ``webhook-id`` (stable across retries and
  duplicates), ``webhook-timestamp``, ``webhook-signature: v1,<b64 HMAC-SHA256>`` keyed with
  ``webhook_secret`` (served at GET /v1/webhooks/default/secret, a read). Only the final
  ("completed") event is retried, on a non-2xx answer or a connection error, after each of
  ``webhook_retry_delays`` seconds (default 1, 2, 4, 8, 15, 30: the last about a minute on).
* Faults: ``webhook_drop_rate``, ``webhook_duplicate_rate`` (+ ``webhook_duplicate_delay``),
  ``webhook_delay``, ``webhook_reorder_window`` (hold "completed" deliveries that long, then send
  them latest-ended first), ``webhook_forge`` ("bad_signature", "stale_timestamp" (by
  ``webhook_stale_seconds``), "missing_id", "missing_timestamp", "missing_signature").
* Records: ``webhooks`` (every attempt: prediction_id, event, url, webhook_id, timestamp,
  attempt, duplicate, forged, status (None on a connection error), error, headers, body, time),
  ``webhook_dropped``, ``webhook_deliveries(prediction_id, event)``.

Standalone use (for benchmarks)::

    python -m tests.replicate_server --port 8787 --latency 2 --jitter 0.25 \\
        --create-limit 600 --read-limit 3000
"""

from __future__ import annotations

import argparse
import base64
import collections
import concurrent.futures
import copy
import hashlib
import heapq
import hmac
import http.client
import io
import itertools
import json
import math
import os
import random
import re
import socket
import struct
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import jsonschema
from PIL import Image, ImageDraw

__all__ = [
    "ReplicateServer",
    "DEFAULT_TOKEN",
    "OFFICIAL_MODELS",
    "SD_IMG2IMG",
    "SD_IMG2IMG_VERSION",
    "SD_IMG2IMG_VERSION_ALIAS",
    "FAILURE_ERROR",
    "Call",
    "busiest_window",
    "percentile",
    "parse_duration",
    "sign_webhook",
    "WEBHOOK_EVENTS",
]

DEFAULT_TOKEN = "r8_test_token_not_real"
FAILURE_ERROR = "E001 simulated model failure"

SD_IMG2IMG = "stability-ai/stable-diffusion-img2img"
SD_IMG2IMG_VERSION = "ddd4eb440853a42c055203289a3da0c8886b0b9492fe619b1c1dbd34be160ce7"
SD_IMG2IMG_VERSION_ALIAS = "15a3689ee13b0d2616e98820eca31d4c3abcd36672df6afce5cb6feb1d66087d"

TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # Replicate ids are lowercase base32
_CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}

# --------------------------------------------------------------------------- models
#
# Each model's published input/output schema lives in tests/replicate_schemas/<owner>__<name>.json:
# the model as GET /v1/models/{owner}/{name} shows it, its versions (latest first) with their
# openapi_schema, and where and when the schema was read. Inputs are validated against the
# schema of the version a prediction runs (the latest for an official model run by name).

SCHEMA_DIR = Path(__file__).resolve().parent / "replicate_schemas"
WEBHOOK_EVENTS = ("start", "output", "logs", "completed")  # webhook_events_filter values


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


def _json_type(value: Any) -> str:
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
        return path, f"Invalid type. Expected: {want}, given: {_json_type(inst)}", "invalid_type"
    if kind == "enum":
        options = ", ".join(json.dumps(v) for v in value)
        return path, f"{field} must be one of the following: {options}", "enum"
    if kind == "minimum":
        return path, f"Must be greater than or equal to {_num(value)}", "number_gte"
    if kind == "maximum":
        return path, f"Must be less than or equal to {_num(value)}", "number_lte"
    if kind == "exclusiveMinimum":
        return path, f"Must be greater than {_num(value)}", "number_gt"
    if kind == "exclusiveMaximum":
        return path, f"Must be less than {_num(value)}", "number_lt"
    if kind == "format":
        return path, f"Does not match format '{value}'", "format"
    if kind == "minItems":
        return path, f"Array must have at least {value} items", "array_min_items"
    if kind == "maxItems":
        return path, f"Array must have at most {value} items", "array_max_items"
    if kind == "minLength":
        return path, f"String length must be greater than or equal to {value}", "string_gte"
    if kind == "maxLength":
        return path, f"String length must be less than or equal to {value}", "string_lte"
    if kind == "pattern":
        return path, f"Does not match pattern '{value}'", "pattern"
    return path, error.message, str(kind)


def schema_problems(openapi_schema: dict, inp: Any) -> list[tuple[str, str, str]]:
    """(field path, message, type) for every way ``inp`` breaks the version's Input schema.

    Unknown keys are not problems: the Input schemas set no ``additionalProperties``, and
    Replicate ignores inputs a model does not declare.
    """
    if not isinstance(inp, dict):
        return [("input", f"Invalid type. Expected: object, given: {_json_type(inp)}", "invalid_type")]
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


# --------------------------------------------------------------------------- images

_NOISE_LOCK = threading.Lock()
_NOISE: bytes | None = None
_PIECE = 64 * 1024


def _noise() -> bytes:
    """1 MiB of incompressible bytes used to pad outputs up to ``output_bytes``."""
    global _NOISE
    with _NOISE_LOCK:
        if _NOISE is None:
            _NOISE = random.Random(0x5EED).randbytes(1 << 20)
        return _NOISE


def _noise_pieces(length: int, crc: int | None = None) -> Iterator[tuple[bytes, int | None]]:
    noise = _noise()
    pos = 0
    while length > 0:
        n = min(_PIECE, length, len(noise) - pos)
        piece = noise[pos : pos + n]
        if crc is not None:
            crc = zlib.crc32(piece, crc)
        yield piece, crc
        length -= n
        pos = (pos + n) % len(noise)


def render_image(pid: str, index: int, model: str, inp: dict, fmt: str) -> bytes:
    """A small real image, different per prediction/output: colour from the id, text of the request."""
    digest = hashlib.sha256(f"{pid}:{index}".encode()).digest()
    colour = (digest[0], digest[1], digest[2])
    ink = (0, 0, 0) if sum(colour) > 384 else (255, 255, 255)
    img = Image.new("RGB", (192, 192), colour)
    draw = ImageDraw.Draw(img)
    prompt = str(inp.get("prompt", ""))
    lines = [model, f"{pid} #{index}"]
    lines += [prompt[i : i + 28] for i in range(0, min(len(prompt), 28 * 4), 28)]
    for key in ("image_input", "input_image", "image_prompt", "image"):
        if key in inp:
            lines.append(f"{key}: {str(inp[key])[-20:]}")
    for row, line in enumerate(lines):
        draw.text((6, 6 + row * 14), line, fill=ink)
    # A few id-dependent stripes so the PNG is not trivially compressible (~2-5 KB).
    for k in range(8):
        y = 120 + k * 8
        draw.rectangle(
            (digest[k + 3] % 96, y, 96 + digest[k + 11] % 96, y + 5),
            fill=(digest[k + 3], digest[k + 11], digest[k + 19]),
        )
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, "PNG")
    elif fmt in ("jpg", "jpeg"):
        img.save(buf, "JPEG", quality=60)
    elif fmt == "webp":
        # VP8X (extended) layout so an extra padding chunk is allowed by the spec.
        img.save(buf, "WEBP", quality=70, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00")
    else:  # pragma: no cover - guarded by validation
        raise ValueError(fmt)
    return buf.getvalue()


def padded_body(base: bytes, fmt: str, target: int) -> tuple[int, Iterable[bytes]]:
    """Return (total length, byte pieces) of ``base`` padded to about ``target`` bytes.

    The result stays a valid image: PNG gets a private ancillary chunk (``pgPd``) before
    IDAT, JPEG gets COM segments after APP0, WebP gets an unknown RIFF chunk.
    """
    extra = target - len(base)
    if fmt == "png" and extra > 12:
        length = extra - 12
        head, tail = base[:33], base[33:]  # signature + IHDR, then the rest

        def gen() -> Iterator[bytes]:
            yield head + struct.pack(">I", length) + b"pgPd"
            running = zlib.crc32(b"pgPd")
            for piece, checksum in _noise_pieces(length, running):
                running = checksum
                yield piece
            yield struct.pack(">I", running & 0xFFFFFFFF) + tail

        return len(base) + 12 + length, gen()

    if fmt in ("jpg", "jpeg") and extra > 4:
        pos = 2
        if base[2:4] == b"\xff\xe0":
            pos = 4 + struct.unpack(">H", base[4:6])[0]
        sizes = []
        left = extra
        while left > 4:
            d = min(65533, left - 4)
            sizes.append(d)
            left -= d + 4
        total = len(base) + sum(d + 4 for d in sizes)

        def gen() -> Iterator[bytes]:
            yield base[:pos]
            for d in sizes:
                yield b"\xff\xfe" + struct.pack(">H", d + 2)
                for piece, _ in _noise_pieces(d):
                    yield piece
            yield base[pos:]

        return total, gen()

    if fmt == "webp" and extra > 8:
        length = (extra - 8) & ~1
        total = len(base) + 8 + length

        def gen() -> Iterator[bytes]:
            yield base[:4] + struct.pack("<I", total - 8) + base[8:]
            yield b"PGPD" + struct.pack("<I", length)
            for piece, _ in _noise_pieces(length):
                yield piece

        return total, gen()

    return len(base), [base]


# --------------------------------------------------------------------------- state


class _Prediction:
    __slots__ = (
        "id",
        "model",
        "version",
        "input",
        "created",
        "start",
        "end",
        "outcome",
        "canceled_at",
        "fmt",
        "n_outputs",
        "expired",
        "webhook",
        "first_download",
        "list_output",
        "error",
        "deadline",
        "cancel_after",
        "events",
        "webhook_completed",
        "completed_sent",
    )

    def __init__(self, **kw: Any) -> None:
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float:
    """Seconds in a Cancel-After value: "30s", "5m", "1h30m45s", "300ms", or plain seconds ("90").
    Raises ValueError for anything else, and for durations that are not positive."""
    value = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        seconds = float(value)
    else:
        pos, seconds = 0, 0.0
        for m in _DURATION_PART.finditer(value):
            if m.start() != pos:
                break
            seconds += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
            pos = m.end()
        if pos == 0 or pos != len(value):
            raise ValueError(f"not a duration: {text!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"not a positive duration: {text!r}")
    return seconds


def sign_webhook(secret: str, msg_id: str, timestamp: int | str, body: str) -> str:
    """Standard Webhooks signature, as Replicate sends it: ``v1,<base64 HMAC-SHA256>`` of
    ``"{id}.{timestamp}.{body}"`` keyed with the base64-decoded part of ``whsec_...``."""
    key = base64.b64decode(secret.split("_", 1)[1])
    mac = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """POST without following redirects (Replicate does not). (status, None) or (None, error)."""
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=timeout)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", target, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, None
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


class _NotJSON(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJSON(name)


def _fmt_seconds(value: float) -> str:
    """Retry-After value: integer string when whole, else a short decimal."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


class _Reply(Exception):
    """Raised inside request handling to answer with a prepared response."""

    def __init__(
        self, status: int, body: dict, headers: dict | None = None, content_type: str = "application/problem+json"
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.content_type = content_type


def _problem(status: int, title: str, detail: str, **extra: Any) -> _Reply:
    return _Reply(status, {"title": title, "detail": detail, "status": status, **extra})


class Call(NamedTuple):
    """One API call as the account limits see it (file downloads are not API calls)."""

    time: float  # time.monotonic() when it arrived
    kind: str  # "create" (600/min on Replicate) or "read" (every other API call, 3000/min)
    endpoint: str  # "predictions.create", "predictions.get", "predictions.cancel", "predictions.list",
    # "models.get", "models.versions.get", "models.versions.list",
    # "webhooks.default.secret", "other"
    throttled: bool  # answered 429


class _Bucket:
    """Token bucket: ``burst`` tokens, refilled at ``per_minute / 60`` a second, starting full."""

    __slots__ = ("burst", "params", "rate", "stamp", "tokens")

    def __init__(self, per_minute: float, burst: float, now: float) -> None:
        self.params = (per_minute, burst)
        self.rate = max(0.0, float(per_minute)) / 60.0
        self.burst = max(1.0, float(burst))
        self.tokens = self.burst
        self.stamp = now

    def take(self, now: float) -> float | None:
        """Take one token: None when taken, else the seconds until one is there."""
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        if self.rate <= 0:
            return 60.0
        return (1.0 - self.tokens) / self.rate


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of ``values``; None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _throttled(wait: float, header: str | None = None) -> _Reply:
    """The 429 Replicate sends: "resets in ~Ns" with N the whole seconds to wait (at least 1)."""
    seconds = max(1, math.ceil(wait - 1e-6))
    return _Reply(
        429,
        {"detail": f"Request was throttled. Your rate limit resets in ~{seconds}s.", "status": 429},
        headers={"Retry-After": header or str(seconds)},
    )


def busiest_window(times, seconds: float = 60.0) -> int:
    """Max number of events inside any half-open window of ``seconds``."""
    times = sorted(times)
    best = j = 0
    for i, t in enumerate(times):
        while times[j] <= t - seconds:
            j += 1
        best = max(best, i - j + 1)
    return best


class ReplicateServer:
    """In-process fake of api.replicate.com + replicate.delivery. See module docstring."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        latency: float = 0.0,
        jitter: float = 0.0,
        seed: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.latency = float(latency)
        self.jitter = float(jitter)
        self.seed = seed
        self.host = host
        self.port = port
        self.url = ""
        self.output_bytes = 4096
        self.retry_after: float = 1.0
        self.wait_timeout_as_starting = True
        self.models = copy.deepcopy(MODELS)  # this server's own copy: tests may change it
        self.versions = dict(VERSIONS)
        self.server_errors: list[str] = []  # tracebacks of unexpected handler errors
        self._lock = threading.RLock()
        self._stop_event = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._mono0 = time.monotonic()
        self._wall0 = time.time()
        # Webhooks: one signing secret per server (from the seed when there is one), and a
        # scheduler thread that fires deliveries at the moment a prediction starts or ends.
        self._seed_key = str(seed) if seed is not None else os.urandom(8).hex()
        self.webhook_secret = (
            "whsec_" + base64.b64encode(hashlib.sha256(f"whsec:{self._seed_key}".encode()).digest()).decode()
        )
        # GET /v1/account (a read): the token's account, as Replicate shows it
        self.account = {"type": "user", "username": "pixelglow-tests", "name": "PixelGlow tests", "github_url": None}
        self._sched_cv = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Callable, tuple]] = []
        self._seq = itertools.count()
        self._gen = 0
        self._sched_thread: threading.Thread | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._reset_state()

    # ---------------------------------------------------------------- lifecycle
    def _reset_state(self) -> None:
        with self._lock:
            self._rng = random.Random(self.seed)
            # faults
            self.fail_rate = 0.0
            self.abort_rate = 0.0
            self.throttle_rate = 0.0
            self.create_error_rate = 0.0
            self.download_error_rate = 0.0
            self.download_404_rate = 0.0
            self.rate_limit_per_minute: int | None = None
            self.rate_window = 60.0  # seconds of the sliding window (tests may shrink it)
            # Account limits as token buckets (None = off): Replicate allows 600 creates and
            # 3000 other API calls a minute, with short bursts. See the class docstring.
            self.create_limit_per_minute: float | None = None
            self.create_burst: float = 20
            self.read_limit_per_minute: float | None = None
            self.read_burst: float = 20
            self.create_throttle_until = 0.0  # time.monotonic() until which every create gets 429
            self.read_throttle_until = 0.0  # time.monotonic() until which every read gets 429
            self.fail_when: Callable[[str, dict], bool] | None = None
            self.output_ttl: float | None = None  # seconds after completion before outputs 404
            # timing: seconds a prediction waits before it starts (math.inf: never starts), and
            # per-input overrides of that wait and of its run time (None from a hook: no override)
            self.queue_delay = 0.0
            self.queue_delay_when: Callable[[str, dict], float | None] | None = None
            self.latency_when: Callable[[str, dict], float | None] | None = None
            self.cancel_after_min = 5.0  # Replicate's documented minimum Cancel-After
            # webhooks
            self.webhook_retry_delays: list[float] = [1.0, 2.0, 4.0, 8.0, 15.0, 30.0]  # ~1 min
            self.webhook_timeout = 5.0
            self.webhook_delay = 0.0  # extra seconds before every delivery
            self.webhook_drop_rate = 0.0  # share of deliveries never sent
            self.webhook_duplicate_rate = 0.0  # share of deliveries sent twice (same webhook-id)
            self.webhook_duplicate_delay = 0.05
            self.webhook_reorder_window: float | None = None  # hold "completed" deliveries this
            # long, then send the batch latest-ended first (earlier-ended predictions arrive last)
            self.webhook_forge: str | None = None  # "bad_signature", "stale_timestamp",
            # "missing_id", "missing_timestamp", "missing_signature" (alias "missing_header")
            self.webhook_stale_seconds = 600.0
            # records
            self.creates: list[dict] = []
            self.throttled = 0  # creates answered 429 (any cause)
            self.read_throttled = 0  # reads answered 429 (any cause)
            self.calls: list[Call] = []
            self.create_errors = 0
            self.gets = 0
            self.cancels: list[str] = []
            self.downloads = 0
            self.download_failures = 0
            self.webhooks: list[dict] = []  # every delivery attempt made, in order
            self.webhook_dropped: list[dict] = []  # deliveries dropped by webhook_drop_rate
            self._reorder_buf: list[dict] = []
            self._preds: dict[str, _Prediction] = {}
            self._order: list[str] = []
            self._window: collections.deque[float] = collections.deque()
            self._buckets: dict[str, _Bucket] = {}
            self._images: dict[tuple[str, int], bytes] = {}

    def reset(self) -> None:
        """Clear counters, predictions, pending webhooks and faults; keep token, latency,
        jitter, output_bytes and the webhook secret."""
        with self._sched_cv:
            self._gen += 1
            self._heap.clear()
        self._reset_state()

    def start(self) -> ReplicateServer:
        if self._httpd is not None:
            return self
        self._stop_event.clear()
        httpd = _HTTPServer((self.host, self.port), _Handler, self)
        self._httpd = httpd
        host, port = httpd.server_address[:2]
        self.port = port
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"replicate-server:{port}", daemon=True
        )
        self._thread.start()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=16, thread_name_prefix=f"replicate-webhook:{port}"
        )
        self._sched_thread = threading.Thread(target=self._sched_loop, name=f"replicate-timers:{port}", daemon=True)
        self._sched_thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stop_event.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._sched_cv:
            self._gen += 1
            self._heap.clear()
            self._sched_cv.notify_all()
        if self._sched_thread is not None:
            self._sched_thread.join(timeout=5)
            self._sched_thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ReplicateServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---------------------------------------------------------------- reading records
    def predictions(self) -> list[dict]:
        """Current JSON of every prediction, in creation order."""
        now = time.monotonic()
        with self._lock:
            recs = [self._preds[i] for i in self._order]
            return [self._to_json(r, now) for r in recs]

    def busiest_window(self, seconds: float = 60.0) -> int:
        """Max number of accepted creates inside any half-open window of ``seconds``."""
        with self._lock:
            times = [c["time"] for c in self.creates]
        return busiest_window(times, seconds)

    def creates_for(self, predicate: Callable[[dict], bool]) -> list[dict]:
        with self._lock:
            creates = list(self.creates)
        return [c for c in creates if predicate(c)]

    # ---------------------------------------------------------------- models and schemas
    def model_version(self, model: str, version_id: str | None = None) -> dict:
        """This server's version record of ``model`` (``id``, ``created_at``, ``cog_version``,
        ``openapi_schema``): the latest, or the one with ``version_id`` (latest if unknown)."""
        with self._lock:
            versions = self.models[model]["versions"]
            for v in versions:
                if version_id is not None and v["id"] == version_id:
                    return v
            return versions[0]

    def input_schema(self, model: str, version_id: str | None = None) -> dict:
        """The live ``components.schemas.Input`` the server validates with: change it to make the
        server disagree with the app's snapshot. (Enums may be ``allOf``/``$ref``, as published.)"""
        return self.model_version(model, version_id)["openapi_schema"]["components"]["schemas"]["Input"]

    def resolved_input_schema(self, model: str, version_id: str | None = None) -> dict:
        """The same Input, dereferenced: comparable with ``app/providers/schemas/*.json``."""
        return input_schema_of(self.model_version(model, version_id)["openapi_schema"])

    def publish_version(self, model: str, openapi_schema: dict | None = None, version_id: str | None = None) -> str:
        """Make a new latest version of ``model`` (a copy of the latest, or ``openapi_schema``).
        A community model's new version can be run by version. Returns its id."""
        with self._lock:
            spec = self.models[model]
            latest = spec["versions"][0]
            vid = version_id or hashlib.sha256(f"{model}:{len(spec['versions'])}:{latest['id']}".encode()).hexdigest()
            spec["versions"].insert(
                0,
                {
                    "id": vid,
                    "created_at": self._iso(time.monotonic()),
                    "cog_version": latest["cog_version"],
                    "openapi_schema": copy.deepcopy(openapi_schema or latest["openapi_schema"]),
                },
            )
            if not spec["official"]:
                self.versions[vid] = model
            return vid

    def model_json(self, model: str) -> dict:
        """What GET /v1/models/{owner}/{name} answers."""
        with self._lock:
            spec = self.models[model]
            out = {
                k: copy.deepcopy(spec["model"].get(k))
                for k in (
                    "url",
                    "owner",
                    "name",
                    "description",
                    "visibility",
                    "github_url",
                    "paper_url",
                    "license_url",
                    "run_count",
                    "cover_image_url",
                    "default_example",
                )
            }
            out["latest_version"] = self._version_json(spec["versions"][0])
            return out

    @staticmethod
    def _version_json(version: dict) -> dict:
        return {k: copy.deepcopy(version[k]) for k in ("id", "created_at", "cog_version", "openapi_schema")}

    def throttle_reads_for(self, seconds: float) -> None:
        """Answer 429 to every read (every API call but create) for the next ``seconds``."""
        with self._lock:
            self.read_throttle_until = time.monotonic() + float(seconds)

    throttle_reads_until = throttle_reads_for  # the name used in the brief

    def throttle_creates_for(self, seconds: float) -> None:
        """Answer 429 to every create for the next ``seconds``."""
        with self._lock:
            self.create_throttle_until = time.monotonic() + float(seconds)

    def call_times(
        self, kind: str | None = None, endpoint: str | None = None, throttled: bool | None = None
    ) -> list[float]:
        """Monotonic arrival times of the API calls that match (None matches anything)."""
        with self._lock:
            calls = list(self.calls)
        return [
            c.time
            for c in calls
            if (kind is None or c.kind == kind)
            and (endpoint is None or c.endpoint == endpoint)
            and (throttled is None or c.throttled == throttled)
        ]

    def call_counts(self) -> dict[str, Any]:
        """Per-kind API call counts: what a benchmark prints as "calls per example" and "429s".

        ``creates``: accepted creates (201); ``create_calls``: create calls that reached the
        limiter (accepted, 429 or later refused by validation); ``create_429s``; ``reads``:
        admitted reads; ``read_429s``; ``reads_by_endpoint`` / ``read_429s_by_endpoint``;
        ``api_calls``: every call counted against a limit; ``gets``, ``cancels``, ``downloads``
        (file downloads are not API calls).
        """
        with self._lock:
            calls = list(self.calls)
            out: dict[str, Any] = {
                "creates": len(self.creates),
                "gets": self.gets,
                "cancels": len(self.cancels),
                "downloads": self.downloads,
                "create_429s": self.throttled,
                "read_429s": self.read_throttled,
            }
        by_ep: collections.Counter[str] = collections.Counter()
        by_ep_429: collections.Counter[str] = collections.Counter()
        create_calls = 0
        for c in calls:
            if c.kind == "create":
                create_calls += 1
            elif c.throttled:
                by_ep_429[c.endpoint] += 1
            else:
                by_ep[c.endpoint] += 1
        out.update(
            create_calls=create_calls,
            reads=sum(by_ep.values()),
            reads_by_endpoint=dict(by_ep),
            read_429s_by_endpoint=dict(by_ep_429),
            api_calls=len(calls),
        )
        return out

    def download_delays(self) -> list[float]:
        """For each succeeded prediction whose output was downloaded: seconds from its end
        (``completed_at``) to the first download of one of its outputs, in creation order."""
        with self._lock:
            out = []
            for pid in self._order:
                rec = self._preds[pid]
                if rec.first_download is None:
                    continue
                status, _, completed = self._state(rec, rec.first_download)
                if status == "succeeded":
                    out.append(rec.first_download - completed)
            return out

    def prediction_times(self) -> list[dict]:
        """Per prediction, in creation order, with ``time.monotonic()`` values: ``created``,
        ``started`` / ``ended`` (None until it has), ``first_download`` (None if never), and the
        ``status`` now."""
        now = time.monotonic()
        with self._lock:
            out = []
            for pid in self._order:
                rec = self._preds[pid]
                status, started, ended = self._state(rec, now)
                out.append(
                    {
                        "id": pid,
                        "model": rec.model,
                        "status": status,
                        "created": rec.created,
                        "started": started,
                        "ended": ended,
                        "first_download": rec.first_download,
                    }
                )
            return out

    def never_downloaded(self) -> list[str]:
        """Ids of predictions that have succeeded by now and whose output nobody fetched."""
        now = time.monotonic()
        with self._lock:
            return [
                pid
                for pid in self._order
                if self._preds[pid].first_download is None and self._state(self._preds[pid], now)[0] == "succeeded"
            ]

    def expire_outputs(self) -> int:
        """Make every output that exists now answer 404 (Replicate deletes them after ~1 h)."""
        now = time.monotonic()
        n = 0
        with self._lock:
            for rec in self._preds.values():
                if self._state(rec, now)[0] == "succeeded" and not rec.expired:
                    rec.expired = True
                    n += 1
        return n

    # ---------------------------------------------------------------- helpers
    def _iso(self, mono: float | None) -> str | None:
        if mono is None:
            return None
        wall = self._wall0 + (mono - self._mono0)
        return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _new_id(self) -> str:
        while True:
            pid = "".join(self._rng.choice(_ID_ALPHABET) for _ in range(26))
            if pid not in self._preds:
                return pid

    def _record_error(self, text: str) -> None:
        with self._lock:
            self.server_errors.append(text)

    @staticmethod
    def _final(rec: _Prediction) -> tuple[str, float | None, float]:
        """How the prediction ends unless cancelled through the API: (status, started, ended).
        Past its Cancel-After deadline one that has not started is aborted, a running one canceled."""
        deadline = rec.deadline
        if deadline is not None and deadline < rec.end:
            if deadline <= rec.start:
                return "aborted", None, deadline
            return "canceled", rec.start, deadline
        if rec.outcome == "aborted":
            return "aborted", None, rec.end
        return rec.outcome, rec.start, rec.end

    @classmethod
    def _state(cls, rec: _Prediction, now: float) -> tuple[str, float | None, float | None]:
        if rec.canceled_at is not None:
            started = rec.start if rec.canceled_at >= rec.start else None
            return "canceled", started, rec.canceled_at
        status, started, ended = cls._final(rec)
        if now >= ended:
            return status, started, ended
        if now < rec.start:
            return "starting", None, None
        return "processing", rec.start, None

    @classmethod
    def _ended_at(cls, rec: _Prediction) -> float:
        return rec.canceled_at if rec.canceled_at is not None else cls._final(rec)[2]

    def _is_expired(self, rec: _Prediction, now: float) -> bool:
        if rec.expired:
            return True
        ttl = self.output_ttl
        return ttl is not None and rec.outcome == "succeeded" and rec.canceled_at is None and now - rec.end > ttl

    def _output_urls(self, rec: _Prediction) -> list[str]:
        return [f"{self.url}/files/{rec.id}/out-{i}.{rec.fmt}" for i in range(rec.n_outputs)]

    def _to_json(self, rec: _Prediction, now: float, as_created: bool = False) -> dict:
        if as_created:
            status, started, completed = "starting", None, None
        else:
            status, started, completed = self._state(rec, now)
        output = None
        error = None
        metrics: dict[str, Any] = {}
        logs = ""
        steps = 25
        if status == "processing":
            frac = (now - rec.start) / (rec.end - rec.start) if rec.end > rec.start else 1.0
            cur = min(steps, int(frac * steps))
            bar = "#" * (cur * 10 // steps)
            logs = f"Running prediction...\n{int(frac * 100):3d}%|{bar:<10}| {cur}/{steps}\n"
        elif status in ("succeeded", "failed"):
            metrics = {"predict_time": round(rec.end - rec.start, 6), "total_time": round(rec.end - rec.created, 6)}
            if status == "succeeded":
                urls = self._output_urls(rec)
                output = urls if rec.n_outputs != 1 or rec.list_output else urls[0]
                logs = f"Running prediction...\n100%|##########| {steps}/{steps}\n"
            else:
                error = rec.error or FAILURE_ERROR
                logs = f"Running prediction...\nTraceback (most recent call last):\n{error}\n"
        base = self.url
        return {
            "id": rec.id,
            "model": rec.model,
            "version": rec.version,
            "input": rec.input,
            "logs": logs,
            "output": output,
            "data_removed": self._is_expired(rec, now),
            "error": error,
            "status": status,
            "source": "api",
            "created_at": self._iso(rec.created),
            "started_at": self._iso(started),
            "completed_at": self._iso(completed),
            "urls": {
                "cancel": f"{base}/v1/predictions/{rec.id}/cancel",
                "get": f"{base}/v1/predictions/{rec.id}",
                "stream": f"{base}/stream/{rec.id}",
                "web": f"https://replicate.com/p/{rec.id}",
            },
            "metrics": metrics,
        }

    def _lookup(self, pid: str) -> _Prediction:
        with self._lock:
            rec = self._preds.get(pid)
        if rec is None:
            raise _problem(404, "Not found", "The requested resource could not be found.")
        return rec

    # ---------------------------------------------------------------- routes
    def _check_auth(self, h: _Handler) -> None:
        auth = (h.headers.get("Authorization") or "").strip()
        scheme, _, value = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or value.strip() != self.token:
            raise _problem(401, "Unauthenticated", "You did not pass a valid authentication token")

    def handle(self, h: _Handler, method: str, raw: bytes) -> None:
        path = urlsplit(h.path).path
        if path.startswith("/files/"):
            if method not in ("GET", "HEAD"):
                raise _problem(405, "Method not allowed", "Method not allowed")
            return self._download(h, path, head=(method == "HEAD"))
        if path.startswith("/stream/"):
            return self._stream(h, path[len("/stream/") :])
        if path in ("/", "/health"):
            return h.reply(200, {"status": "ok"}, "application/json")
        if not path.startswith("/v1/"):
            raise _problem(404, "Not found", "The requested resource could not be found.")
        self._check_auth(h)
        parts = [p for p in path.split("/") if p][1:]  # drop "v1"
        if method == "POST" and len(parts) == 4 and parts[0] == "models" and parts[3] == "predictions":
            return self._create(h, raw, model=f"{parts[1]}/{parts[2]}")
        if method == "POST" and parts == ["predictions"]:
            return self._create(h, raw, model=None)
        # Every other API call counts against the "read" limit (3000/min on Replicate).
        if method == "GET" and parts == ["predictions"]:
            self._admit_read("predictions.list")
            return self._list(h)
        if method == "GET" and len(parts) == 2 and parts[0] == "predictions":
            self._admit_read("predictions.get")
            with self._lock:
                self.gets += 1
            rec = self._lookup(parts[1])
            return h.reply(200, self._to_json(rec, time.monotonic()), "application/json")
        if method == "POST" and len(parts) == 3 and parts[0] == "predictions" and parts[2] == "cancel":
            self._admit_read("predictions.cancel")
            return self._cancel(h, parts[1])
        if method == "GET" and parts == ["account"]:
            self._admit_read("account.get")
            return h.reply(200, self.account, "application/json")
        if method == "GET" and parts == ["webhooks", "default", "secret"]:
            self._admit_read("webhooks.default.secret")
            return h.reply(200, {"key": self.webhook_secret}, "application/json")
        if (
            method == "GET"
            and len(parts) in (3, 4, 5)
            and parts[0] == "models"
            and (len(parts) == 3 or parts[3] == "versions")
        ):
            endpoint = {3: "models.get", 4: "models.versions.list", 5: "models.versions.get"}[len(parts)]
            self._admit_read(endpoint)
            return self._model_route(
                h, f"{parts[1]}/{parts[2]}", parts[4] if len(parts) == 5 else None, listing=len(parts) == 4
            )
        self._admit_read("other")
        raise _problem(404, "Not found", "The requested resource could not be found.")

    def _model_route(self, h: _Handler, name: str, version_id: str | None, listing: bool) -> None:
        with self._lock:
            spec = self.models.get(name)
            if spec is None:
                raise _problem(404, "Not found", "The requested resource could not be found.")
            if listing:
                payload: Any = {
                    "previous": None,
                    "next": None,
                    "results": [self._version_json(v) for v in spec["versions"]],
                }
            elif version_id is None:
                payload = self.model_json(name)
            else:
                found = [v for v in spec["versions"] if v["id"] == version_id]
                if not found:
                    raise _problem(404, "Not found", "The requested resource could not be found.")
                payload = self._version_json(found[0])
        h.reply(200, payload, "application/json")

    def _parse_body(self, raw: bytes) -> dict:
        try:
            # NaN and Infinity are not JSON: Python's json takes them, Replicate's parser does not.
            body = json.loads(raw or b"null", parse_constant=_refuse_constant)
        except ValueError as exc:
            detail = "The request body is not valid JSON"
            if isinstance(exc, _NotJSON):
                detail += f": {exc} is not a JSON value"
            raise _problem(400, "Bad request", detail) from None
        if not isinstance(body, dict):
            raise _problem(
                422, "Input validation failed", f"- (root): Invalid type. Expected: object, given: {_json_type(body)}\n"
            )
        return body

    def _resolve_version(self, ref: Any) -> tuple[str, str]:
        """version field -> (model, version string to report)."""
        bad = _problem(
            422,
            "Invalid version or not permitted",
            "The specified version does not exist (or perhaps you don't have permission to use it?)",
        )
        if not isinstance(ref, str) or not ref:
            raise bad
        if "/" in ref:
            name, _, vid = ref.partition(":")
            if name not in self.models:
                raise bad
            if not vid:
                if self.models[name]["official"]:
                    return name, "hidden"
                raise bad
            if self.versions.get(vid) != name:
                raise bad
            return name, vid
        model = self.versions.get(ref)
        if model is None:
            raise bad
        return model, ref

    def _create(self, h: _Handler, raw: bytes, model: str | None) -> None:
        prefer = h.headers.get("Prefer")
        if model is not None:
            spec = self.models.get(model)
            if spec is None:
                raise _problem(404, "Not found", "The requested resource could not be found.")
            if not spec["official"]:
                raise _problem(
                    404,
                    "Not found",
                    "The requested resource could not be found. "
                    f"{model} is not an official model: to run it you must specify a version "
                    '(POST /v1/predictions with "version").',
                )
            body = self._parse_body(raw)
            version = "hidden"
        else:
            body = self._parse_body(raw)
            if "version" not in body:
                raise _problem(422, "Input validation failed", "- (root): version is required\n")
            model, version = self._resolve_version(body["version"])

        cancel_after = self._cancel_after(h.headers.get("Cancel-After"))
        self._check_webhook_fields(body)

        self._admit_create()

        version_spec = self.model_version(model, None if version == "hidden" else version)
        openapi = version_spec["openapi_schema"]
        problems = validate_input(model, body, openapi)
        if problems:
            detail = "".join(f"- {p}: {m}\n" for p, m, _ in problems)
            raise _problem(
                422,
                "Input validation failed",
                detail,
                invalid_fields=[{"type": t, "field": p, "description": m} for p, m, t in problems],
            )

        with self._lock:
            if self.create_error_rate > 0 and self._rng.random() < self.create_error_rate:
                self.create_errors += 1
                code = self._rng.choice((500, 503))
                title = "Internal Server Error" if code == 500 else "Service Unavailable"
                raise _problem(code, title, "Something went wrong, please try again (simulated)")

        inp = body["input"]
        failing = bool(self.fail_when(model, inp)) if self.fail_when is not None else False
        runtime_error = RUNTIME_ERRORS[model](inp) if model in RUNTIME_ERRORS else None
        schema = input_schema_of(openapi)
        props = schema.get("properties", {})
        list_output = openapi["components"]["schemas"].get("Output", {}).get("type") == "array"
        fmt = inp.get("output_format", props.get("output_format", {}).get("default", "png"))
        n_outputs = int(inp.get("num_outputs", props.get("num_outputs", {}).get("default", 1))) if list_output else 1
        ignored = sorted(set(inp) - set(props))
        queue = self.queue_delay
        if self.queue_delay_when is not None and (q := self.queue_delay_when(model, inp)) is not None:
            queue = float(q)
        run_time = self.latency_when(model, inp) if self.latency_when is not None else None

        with self._lock:
            now = time.monotonic()
            duration = self.latency
            if self.jitter > 0:
                duration += self._rng.uniform(-self.jitter, self.jitter)
            duration = max(0.0, duration)
            if run_time is not None:
                duration = max(0.0, float(run_time))
            if failing or runtime_error:
                outcome = "failed"
            elif self.fail_rate > 0 and self._rng.random() < self.fail_rate:
                outcome = "failed"
            elif self.abort_rate > 0 and self._rng.random() < self.abort_rate:
                outcome = "aborted"
            else:
                outcome = "succeeded"
            rec = _Prediction(
                id=self._new_id(),
                model=model,
                version=version,
                input=inp,
                created=now,
                start=now + queue + min(0.05, 0.1 * duration),
                end=now + queue + duration,
                outcome=outcome,
                canceled_at=None,
                fmt=fmt,
                n_outputs=n_outputs,
                expired=False,
                webhook=body.get("webhook"),
                first_download=None,
                list_output=list_output,
                error=runtime_error if runtime_error and not failing else None,
                deadline=None if cancel_after is None else now + cancel_after,
                cancel_after=cancel_after,
                events=tuple(body.get("webhook_events_filter") or WEBHOOK_EVENTS),
                webhook_completed=body.get("webhook_completed"),
                completed_sent=set(),
            )
            self._preds[rec.id] = rec
            self._order.append(rec.id)
            self._window.append(now)
            self.creates.append(
                {
                    "id": rec.id,
                    "model": model,
                    "version": version,
                    "input": inp,
                    "time": now,
                    "prefer": prefer,
                    "webhook": body.get("webhook"),
                    "ignored_inputs": ignored,  # keys the schema does not declare (Replicate ignores them)
                    "webhook_events_filter": body.get("webhook_events_filter"),
                    "webhook_completed": body.get("webhook_completed"),
                    "cancel_after": cancel_after,  # seconds, from the Cancel-After header
                }
            )
        self._schedule_webhooks(rec)

        wait = _parse_prefer_wait(prefer)
        if wait is None:
            return h.reply(201, self._to_json(rec, now, as_created=True), "application/json")
        deadline = time.monotonic() + wait
        while True:
            now = time.monotonic()
            with self._lock:
                status = self._state(rec, now)[0]
            if status in TERMINAL or now >= deadline or self._stop_event.is_set():
                break
            self._stop_event.wait(min(max(rec.end - now, 0.001), deadline - now, 0.05))
        with self._lock:
            now = time.monotonic()
            # The real blocking API answers "starting" when the wait runs out (see the
            # comment in replicate/run.py); wait_timeout_as_starting=False reports the
            # true state instead (then client.run() returns None for "processing").
            unfinished = self._state(rec, now)[0] not in TERMINAL
            payload = self._to_json(rec, now, as_created=unfinished and self.wait_timeout_as_starting)
        h.reply(201, payload, "application/json")

    # ---------------------------------------------------------------- Cancel-After, webhooks
    def _cancel_after(self, header: str | None) -> float | None:
        if header is None:
            return None
        try:
            seconds = parse_duration(header)
        except ValueError:
            seconds = None
        if seconds is None or seconds < self.cancel_after_min:
            raise _problem(
                400,
                "Invalid Cancel-After header",
                f"Cancel-After must be a duration like 30s, 5m or 1h30m (plain numbers are "
                f"seconds), at least {_fmt_seconds(self.cancel_after_min)}s; got {header!r}",
            )
        return seconds

    @staticmethod
    def _check_webhook_fields(body: dict) -> None:
        problems = []
        for key in ("webhook", "webhook_completed"):
            url = body.get(key)
            if url is not None and not (isinstance(url, str) and re.match(r"^https?://[^\s/]+", url)):
                problems.append((key, "Does not match format 'uri'", "format"))
        events = body.get("webhook_events_filter")
        if events is not None:
            if not isinstance(events, list):
                problems.append(
                    (
                        "webhook_events_filter",
                        f"Invalid type. Expected: array, given: {_json_type(events)}",
                        "invalid_type",
                    )
                )
            else:
                options = ", ".join(f'"{e}"' for e in WEBHOOK_EVENTS)
                for i, event in enumerate(events):
                    if event not in WEBHOOK_EVENTS:
                        problems.append(
                            (
                                f"webhook_events_filter.{i}",
                                f"webhook_events_filter.{i} must be one of the following: {options}",
                                "enum",
                            )
                        )
        if problems:
            raise _problem(
                422,
                "Input validation failed",
                "".join(f"- {p}: {m}\n" for p, m, _ in problems),
                invalid_fields=[{"type": t, "field": p, "description": m} for p, m, t in problems],
            )

    def _completed_targets(self, rec: _Prediction) -> list[str]:
        urls = []
        if rec.webhook and "completed" in rec.events:
            urls.append(rec.webhook)
        if rec.webhook_completed and rec.webhook_completed not in urls:
            urls.append(rec.webhook_completed)
        return urls

    def _schedule_webhooks(self, rec: _Prediction) -> None:
        """At create: one timer per event the prediction will have (a cancel adds its own)."""
        if not rec.webhook and not rec.webhook_completed:
            return
        gen = self._gen
        status, started, ended = self._final(rec)
        if rec.webhook and started is not None and math.isfinite(rec.start):
            for event in ("start", "logs"):
                if event in rec.events:
                    self._at(rec.start, self._fire, gen, rec, event, rec.webhook)
        if rec.webhook and "output" in rec.events and status == "succeeded" and math.isfinite(ended):
            self._at(ended, self._fire, gen, rec, "output", rec.webhook)
        if math.isfinite(ended):
            for url in self._completed_targets(rec):
                self._at(ended, self._fire, gen, rec, "completed", url)

    def _at(self, when: float, fn: Callable, *args: Any) -> None:
        with self._sched_cv:
            heapq.heappush(self._heap, (when, next(self._seq), fn, args))
            self._sched_cv.notify()

    def _sched_loop(self) -> None:
        while not self._stop_event.is_set():
            with self._sched_cv:
                now = time.monotonic()
                due = []
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap))
                if not due:
                    wait = self._heap[0][0] - now if self._heap else 0.5
                    self._sched_cv.wait(min(wait, 0.5))
                    continue
            pool = self._pool
            for _, _, fn, args in due:
                if pool is None:
                    return
                try:
                    pool.submit(self._guarded, fn, *args)
                except RuntimeError:  # pool shut down: the server is stopping
                    return

    def _guarded(self, fn: Callable, *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - keep the timers running, report like a handler error
            self._record_error(traceback.format_exc())

    def _chance(self, key: str) -> float:
        """A repeatable number in [0, 1) per key (independent of thread timing)."""
        digest = hashlib.sha256(f"{self._seed_key}:{key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64

    def _fire(self, gen: int, rec: _Prediction, event: str, url: str) -> None:
        """A prediction event is due: snapshot its JSON and hand it to delivery."""
        if gen != self._gen:
            return
        with self._lock:
            now = time.monotonic()
            status = self._state(rec, now)[0]
            if event == "completed":
                if status not in TERMINAL:  # a timer a hair early
                    self._at(self._ended_at(rec), self._fire, gen, rec, event, url)
                    return
                if url in rec.completed_sent:  # already sent (cancelled before its natural end)
                    return
                rec.completed_sent.add(url)
            elif rec.canceled_at is not None and rec.canceled_at <= now:
                return  # cancelled before this event happened
            elif event == "output" and status != "succeeded":
                return
            body = json.dumps(self._to_json(rec, now))
        msg_id = "msg_" + hashlib.sha256(f"{self._seed_key}:{rec.id}:{event}:{url}".encode()).hexdigest()[:27]
        delivery = {
            "prediction_id": rec.id,
            "event": event,
            "url": url,
            "webhook_id": msg_id,
            "body": body,
            "ended": self._ended_at(rec),
            "attempt": 0,
            "duplicate": False,
            "gen": gen,
            "retry": event == "completed",
        }  # Replicate retries only the final event
        if self.webhook_drop_rate > 0 and self._chance(f"drop:{msg_id}") < self.webhook_drop_rate:
            with self._lock:
                self.webhook_dropped.append(
                    {k: delivery[k] for k in ("prediction_id", "event", "url", "webhook_id")} | {"time": now}
                )
            return
        window = self.webhook_reorder_window
        if event == "completed" and window:
            with self._lock:
                self._reorder_buf.append(delivery)
                first = len(self._reorder_buf) == 1
            if first:
                self._at(now + window + self.webhook_delay, self._flush_reorder, gen)
        else:
            self._at(now + self.webhook_delay, self._send, delivery)
        if self.webhook_duplicate_rate > 0 and self._chance(f"dup:{msg_id}") < self.webhook_duplicate_rate:
            twin = dict(delivery, duplicate=True, retry=False)
            self._at(now + self.webhook_delay + (window or 0) + self.webhook_duplicate_delay, self._send, twin)

    def _flush_reorder(self, gen: int) -> None:
        if gen != self._gen:
            return
        with self._lock:
            batch, self._reorder_buf = self._reorder_buf, []
        for delivery in sorted(batch, key=lambda d: d["ended"], reverse=True):
            self._send(delivery)

    def _send(self, delivery: dict) -> None:
        if delivery["gen"] != self._gen or self._stop_event.is_set():
            return
        forge = self.webhook_forge
        timestamp = int(time.time())
        if forge == "stale_timestamp":
            timestamp -= int(self.webhook_stale_seconds)
        secret = self.webhook_secret
        if forge == "bad_signature":
            secret = "whsec_" + base64.b64encode(b"not the account's webhook secret").decode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "replicate-fake-webhook/1.0",
            "webhook-id": delivery["webhook_id"],
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_webhook(secret, delivery["webhook_id"], timestamp, delivery["body"]),
        }
        missing = {
            "missing_id": "webhook-id",
            "missing_timestamp": "webhook-timestamp",
            "missing_signature": "webhook-signature",
            "missing_header": "webhook-signature",
        }
        if forge in missing:
            del headers[missing[forge]]
        status, error = _post(delivery["url"], delivery["body"].encode(), headers, self.webhook_timeout)
        with self._lock:
            if delivery["gen"] != self._gen:
                return
            self.webhooks.append(
                {
                    "time": time.monotonic(),
                    "prediction_id": delivery["prediction_id"],
                    "event": delivery["event"],
                    "url": delivery["url"],
                    "webhook_id": delivery["webhook_id"],
                    "timestamp": timestamp,
                    "attempt": delivery["attempt"],
                    "duplicate": delivery["duplicate"],
                    "forged": forge,
                    "status": status,
                    "error": error,
                    "headers": headers,
                    "body": delivery["body"],
                }
            )
            delays = list(self.webhook_retry_delays)
        ok = status is not None and 200 <= status < 300
        if not ok and delivery["retry"] and delivery["attempt"] < len(delays):
            retry = dict(delivery, attempt=delivery["attempt"] + 1)
            self._at(time.monotonic() + delays[delivery["attempt"]], self._send, retry)

    def webhook_deliveries(self, prediction_id: str | None = None, event: str | None = None) -> list[dict]:
        """Delivery attempts made (see ``webhooks``), filtered."""
        with self._lock:
            return [
                w
                for w in self.webhooks
                if (prediction_id is None or w["prediction_id"] == prediction_id)
                and (event is None or w["event"] == event)
            ]

    def _bucket(self, kind: str, now: float) -> _Bucket | None:
        """The token bucket of ``kind`` for the current knob values (None when that limit is off)."""
        if kind == "create":
            params = (self.create_limit_per_minute, self.create_burst)
        else:
            params = (self.read_limit_per_minute, self.read_burst)
        if params[0] is None:
            self._buckets.pop(kind, None)
            return None
        bucket = self._buckets.get(kind)
        if bucket is None or bucket.params != params:
            bucket = self._buckets[kind] = _Bucket(params[0], params[1], now)
        return bucket

    def _admit_create(self) -> None:
        """Create limits: 429 storm, sliding window, random throttling, token bucket. Raises a 429."""
        with self._lock:
            now = time.monotonic()
            limit = self.rate_limit_per_minute
            window = self._window
            span = self.rate_window
            while window and window[0] <= now - span:
                window.popleft()
            wait: float | None = None
            header: str | None = None
            if now < self.create_throttle_until:
                wait = self.create_throttle_until - now
            elif limit is not None and len(window) >= limit:
                # the slot frees when the create `limit` places back leaves the window
                oldest = window[len(window) - limit] if limit > 0 else now + span
                wait = max(1, math.ceil(oldest + span - now))
            elif self.throttle_rate > 0 and self._rng.random() < self.throttle_rate:
                wait = self.retry_after
                header = _fmt_seconds(self.retry_after)
            else:
                bucket = self._bucket("create", now)
                if bucket is not None:
                    wait = bucket.take(now)
            self.calls.append(Call(now, "create", "predictions.create", wait is not None))
            if wait is None:
                return
            self.throttled += 1
        raise _throttled(wait, header)

    def _admit_read(self, endpoint: str) -> None:
        """Read limit (every API call but create): 429 storm, then token bucket. Raises a 429."""
        with self._lock:
            now = time.monotonic()
            wait: float | None = None
            if now < self.read_throttle_until:
                wait = self.read_throttle_until - now
            else:
                bucket = self._bucket("read", now)
                if bucket is not None:
                    wait = bucket.take(now)
            self.calls.append(Call(now, "read", endpoint, wait is not None))
            if wait is None:
                return
            self.read_throttled += 1
        raise _throttled(wait)

    LIST_PAGE = 100

    def _list(self, h: _Handler) -> None:
        """The account's predictions, newest first, 100 a page, as GET shows each one. Like Replicate's,
        the cursor is opaque and keyed on the last prediction shown, so new predictions do not shift pages."""
        cursor = parse_qs(urlsplit(h.path).query).get("cursor", [None])[0]
        now = time.monotonic()
        with self._lock:
            end = len(self._order) if cursor is None else self._cursor_position(cursor)
            start = max(0, end - self.LIST_PAGE)
            recs = [self._preds[i] for i in reversed(self._order[start:end])]
            results = [self._to_json(r, now) for r in recs]
        nxt = None
        if start > 0:
            token = base64.urlsafe_b64encode(f"p={start}".encode()).decode()
            nxt = f"{self.url}/v1/predictions?cursor={token}"
        h.reply(200, {"previous": None, "next": nxt, "results": results}, "application/json")

    def _cursor_position(self, cursor: str) -> int:
        try:
            text = base64.urlsafe_b64decode(cursor.encode()).decode()
            position = int(text.removeprefix("p="))
        except (ValueError, UnicodeError):
            raise _problem(400, "Bad request", "Invalid cursor.") from None
        if not text.startswith("p=") or not 0 <= position <= len(self._order):
            raise _problem(400, "Bad request", "Invalid cursor.")
        return position

    def _cancel(self, h: _Handler, pid: str) -> None:
        rec = self._lookup(pid)
        with self._lock:
            now = time.monotonic()
            self.cancels.append(pid)
            canceled = self._state(rec, now)[0] not in TERMINAL
            if canceled:
                rec.canceled_at = now
            payload = self._to_json(rec, now)
        if canceled:
            for url in self._completed_targets(rec):
                self._at(now, self._fire, self._gen, rec, "completed", url)
        h.reply(200, payload, "application/json")

    _FILE_RE = re.compile(r"^/files/([a-z0-9]+)/out-(\d+)\.([a-z]+)$")

    def _download(self, h: _Handler, path: str, head: bool) -> None:
        m = self._FILE_RE.match(path)
        now = time.monotonic()
        with self._lock:
            rec = self._preds.get(m.group(1)) if m else None
            ok = (
                rec is not None
                and self._state(rec, now)[0] == "succeeded"
                and int(m.group(2)) < rec.n_outputs
                and m.group(3) == rec.fmt
                and not self._is_expired(rec, now)
            )
            code = 200 if ok else 404
            if ok and self.download_404_rate > 0 and self._rng.random() < self.download_404_rate:
                code = 404
            if code == 200 and self.download_error_rate > 0 and self._rng.random() < self.download_error_rate:
                code = 503
            if code != 200:
                self.download_failures += 1
            else:
                cached = self._images.get((rec.id, int(m.group(2))))
            target = self.output_bytes
        if code == 404:
            return h.reply_bytes(404, b"Not Found\n", "text/plain; charset=utf-8")
        if code == 503:
            return h.reply_bytes(503, b"Service Unavailable\n", "text/plain; charset=utf-8", {"Retry-After": "1"})
        index = int(m.group(2))
        if cached is None:
            cached = render_image(rec.id, index, rec.model, rec.input, rec.fmt)
            with self._lock:
                if len(self._images) > 4096:
                    self._images.clear()
                self._images[(rec.id, index)] = cached
        total, pieces = padded_body(cached, rec.fmt, target)
        h.send_response(200)
        h.send_header("Content-Type", _CONTENT_TYPES.get(rec.fmt, "application/octet-stream"))
        h.send_header("Content-Length", str(total))
        h.send_header("Cache-Control", "public, max-age=3600")
        h.end_headers()
        if head:
            return
        # Count before the last byte goes out, so a client that has its body sees the count.
        with self._lock:
            self.downloads += 1
            if rec.first_download is None:
                rec.first_download = now
        try:
            buf = b""
            for piece in pieces:  # coalesce small pieces, stream big bodies in ~64 KB writes
                buf += piece
                if len(buf) >= _PIECE:
                    h.wfile.write(buf)
                    buf = b""
            if buf:
                h.wfile.write(buf)
        except OSError:
            with self._lock:
                self.downloads -= 1
                self.download_failures += 1
            raise

    def _stream(self, h: _Handler, pid: str) -> None:
        """Minimal server-sent events: output events at completion, then done."""
        rec = self._lookup(pid)
        deadline = time.monotonic() + 60
        while True:
            now = time.monotonic()
            with self._lock:
                status = self._state(rec, now)[0]
            if status in TERMINAL or now >= deadline or self._stop_event.is_set():
                break
            self._stop_event.wait(min(max(rec.end - now, 0.001), 0.05))
        events = []
        if status == "succeeded":
            events += [("output", u) for u in self._output_urls(rec)]
        elif status == "failed":
            events.append(("error", json.dumps({"detail": FAILURE_ERROR})))
        done = {} if status == "succeeded" else {"reason": status}
        events.append(("done", json.dumps(done)))
        body = "".join(f"event: {e}\nid: {i}\ndata: {d}\n\n" for i, (e, d) in enumerate(events))
        h.reply_bytes(200, body.encode(), "text/event-stream", {"Cache-Control": "no-store"})


def _parse_prefer_wait(prefer: str | None) -> float | None:
    if not prefer:
        return None
    m = re.search(r"(?:^|[,;\s])wait(?:\s*=\s*(\d+(?:\.\d+)?))?(?:$|[,;\s])", prefer)
    if not m:
        return None
    value = float(m.group(1)) if m.group(1) else 60.0
    return min(max(value, 0.0), 60.0)


# --------------------------------------------------------------------------- HTTP plumbing


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, owner: ReplicateServer) -> None:
        self.owner = owner
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
            return
        self.owner._record_error(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "replicate-fake/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence access log
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def reply_bytes(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply(self, status: int, obj: Any, content_type: str = "application/json", headers: dict | None = None) -> None:
        self.reply_bytes(status, json.dumps(obj).encode(), content_type, headers)

    def end_headers(self) -> None:
        self._headers_done = True
        super().end_headers()

    def _dispatch(self, method: str) -> None:
        owner = self.server.owner
        self._headers_done = False
        try:
            raw = self._read_body()
            try:
                owner.handle(self, method, raw)
            except _Reply as r:
                self.reply(r.status, r.body, r.content_type, r.headers)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:  # noqa: BLE001 - report as a 500 and keep serving
            owner._record_error(traceback.format_exc())
            self.close_connection = True
            if not self._headers_done:
                try:
                    self.reply(
                        500,
                        {
                            "title": "Internal Server Error",
                            "detail": "fake server error (see server_errors)",
                            "status": 500,
                        },
                        "application/problem+json",
                    )
                except OSError:
                    pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.replicate_server", description="Fake Replicate API for tests and benchmarks."
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--token", default=DEFAULT_TOKEN)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--jitter", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--fail-rate", type=float, default=0.0)
    ap.add_argument("--abort-rate", type=float, default=0.0)
    ap.add_argument("--throttle-rate", type=float, default=0.0)
    ap.add_argument("--create-error-rate", type=float, default=0.0)
    ap.add_argument("--download-error-rate", type=float, default=0.0)
    ap.add_argument("--download-404-rate", type=float, default=0.0)
    ap.add_argument(
        "--rate-limit-per-minute", type=int, default=None, help="strict sliding-window create limit (no burst)"
    )
    ap.add_argument(
        "--create-limit", type=float, default=None, help="create token bucket: creates per minute (Replicate: 600)"
    )
    ap.add_argument("--create-burst", type=float, default=20, help="create bucket size")
    ap.add_argument(
        "--read-limit", type=float, default=None, help="read token bucket: other API calls per minute (Replicate: 3000)"
    )
    ap.add_argument("--read-burst", type=float, default=20, help="read bucket size")
    ap.add_argument("--retry-after", type=float, default=1.0)
    ap.add_argument("--queue-delay", type=float, default=0.0, help="seconds each prediction waits before it starts")
    ap.add_argument(
        "--cancel-after-min", type=float, default=5.0, help="smallest Cancel-After accepted (Replicate: 5 s)"
    )
    ap.add_argument("--output-bytes", type=int, default=4096)
    args = ap.parse_args(argv)

    server = ReplicateServer(
        token=args.token, latency=args.latency, jitter=args.jitter, seed=args.seed, host=args.host, port=args.port
    )
    server.fail_rate = args.fail_rate
    server.abort_rate = args.abort_rate
    server.throttle_rate = args.throttle_rate
    server.create_error_rate = args.create_error_rate
    server.download_error_rate = args.download_error_rate
    server.download_404_rate = args.download_404_rate
    server.rate_limit_per_minute = args.rate_limit_per_minute
    server.create_limit_per_minute = args.create_limit
    server.create_burst = args.create_burst
    server.read_limit_per_minute = args.read_limit
    server.read_burst = args.read_burst
    server.retry_after = args.retry_after
    server.queue_delay = args.queue_delay
    server.cancel_after_min = args.cancel_after_min
    server.output_bytes = args.output_bytes
    server.start()
    print(server.url, flush=True)
    print(f"token: {server.token}  (REPLICATE_BASE_URL={server.url})", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        counts = server.call_counts()
        print(
            f"creates={counts['creates']} create_429s={counts['create_429s']} reads={counts['reads']} "
            f"read_429s={counts['read_429s']} gets={counts['gets']} downloads={counts['downloads']} "
            f"reads_by_endpoint={counts['reads_by_endpoint']}",
            file=sys.stderr,
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
