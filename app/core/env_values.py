"""Reading one setting from the environment: a whole number, a number, rate limits; `ConfigError` names the
variable when its value is not one (used by `config` and `s3_settings`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

# what `number` gives when the variable is unset: a float, or None for an optional setting
Default = TypeVar("Default", float, None)


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message names the variable."""


def whole_number(
    environ: Mapping[str, str], name: str, default: int, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def number(environ: Mapping[str, str], name: str, default: Default, minimum: float = 0.0) -> float | Default:
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


_ONE_LIMIT = r"\s*\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day)s?\s*"
RATE_LIMITS = re.compile(rf"^{_ONE_LIMIT}(;{_ONE_LIMIT})*;?\s*$")


def rate_limits(environ: Mapping[str, str], name: str, default: str) -> str:
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    if not RATE_LIMITS.match(raw):
        raise ConfigError(f"{name} must be limits like '5 per minute; 20 per day', got {raw!r}")
    return raw
