"""JSON that cannot hurt us: bounded size and depth, finite numbers, text every database can store.

`loads_checked` refuses, with a message naming the problem (and where it is), what would otherwise end in a 500 or in a
value the API could not answer with: nesting deeper than MAX_DEPTH (Python's parser would recurse until
RecursionError), NaN / Infinity and numbers too large for a float, integers with thousands of digits,
unpaired surrogates and NUL (PostgreSQL cannot store them, SQLite would and the answer would break).
`dumps_finite` never writes NaN or Infinity (invalid JSON): a non-finite float already stored becomes null.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32
MAX_BYTES = 1024 * 1024  # as MAX_CONTENT_LENGTH, which answers larger bodies with a 413 first
MAX_NUMBER_DIGITS = 100
BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


class JSONInputError(ValueError):
    """JSON we refuse; the message says why."""


def text_problem(value: str) -> str | None:
    """Why this text cannot be stored (NUL, an unpaired surrogate), or None."""
    match = BAD_TEXT.search(value)
    if match is None:
        return None
    return "a NUL character" if match.group() == "\x00" else f"an unpaired surrogate (U+{ord(match.group()):04X})"


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise JSONInputError(f"A number in the JSON has more than {MAX_NUMBER_DIGITS} characters.")
    return float(text)  # 1e999 becomes inf: refused below, with where it was


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise JSONInputError(f"A number in the JSON has more than {MAX_NUMBER_DIGITS} digits.")
    return int(text)


def _where(path: str) -> str:
    return f" (at {path})" if path else ""


def value_problem(value: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Why a parsed value cannot be accepted (too deep, bad text, non-finite number), naming where, or None."""
    stack = [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                return f"The JSON is nested too deeply: at most {max_depth} levels."
            children = list(item.items()) if isinstance(item, dict) else list(enumerate(item))
            for key, child in children:
                if isinstance(key, str) and (problem := text_problem(key)):
                    return f"A key in the JSON contains {problem}{_where(path)}."
                stack.append((child, depth + 1, f"{path}.{key}" if path else str(key)))
        elif isinstance(item, str) and (problem := text_problem(item)):
            return f"A text in the JSON contains {problem}{_where(path)}."
        elif isinstance(item, float) and not math.isfinite(item):
            return f"NaN and Infinity are not allowed{_where(path)}: numbers must be finite."
    return None


def loads_checked(data: str | bytes, max_depth: int = MAX_DEPTH, max_bytes: int | None = MAX_BYTES) -> Any:
    """json.loads with the limits above; raises JSONInputError (a ValueError) naming the problem."""
    if max_bytes is not None and len(data) > max_bytes:
        raise JSONInputError(f"The JSON body is too large: at most {max_bytes} bytes.")
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise JSONInputError("The JSON body is not valid UTF-8.") from None
    try:
        value = json.loads(data, parse_float=_parse_float, parse_int=_parse_int)
    except RecursionError:
        raise JSONInputError(f"The JSON is nested too deeply: at most {max_depth} levels.") from None
    except JSONInputError:
        raise
    except ValueError as exc:
        raise JSONInputError(f"The request body is not valid JSON ({exc}).") from None
    problem = value_problem(value, max_depth)
    if problem:
        raise JSONInputError(problem)
    return value


def finite(value: Any) -> Any:
    """A copy of `value` with every NaN / Infinity replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def dumps_finite(value: Any, **kwargs: Any) -> str:
    """json.dumps that never emits NaN or Infinity."""
    kwargs["allow_nan"] = False
    try:
        return json.dumps(value, **kwargs)
    except ValueError:
        return json.dumps(finite(value), **kwargs)
