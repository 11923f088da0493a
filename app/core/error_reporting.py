"""Error reporting: with SENTRY_DSN set, sentry-sdk reports unhandled exceptions of requests (Flask) and of tasks
(Huey), with the release and environment; unset, nothing is sent and sentry-sdk is not started.

Events carry no secrets: PII and request bodies are off, and `Scrubber` (before_send) blanks every value under a
key that names a password, token, session, cookie or Authorization; in any text, every `password=…`-like pair and
every Bearer / r8_ / whsec_ string; and every configured secret (the Replicate token, the admin, metrics and feed
tokens, SECRET_KEY, passwords in the database and Redis URLs) wherever it appears.
"""

from __future__ import annotations

import re
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import sentry_sdk
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.huey import HueyIntegration

from app.core.config import Settings

FILTERED = "[Filtered]"
SENSITIVE_KEY = re.compile(r"pass|secret|token|session|cookie|authori[sz]ation|csrf|api[-_]?key|credential", re.I)
# `password=…`, `token: …`, `session_id=…` inside a text (a query string, a message, a repr)
KEY_VALUE = re.compile(
    r"\b(\w*(?:pass|secret|token|session|cookie|csrf|api[-_]?key)\w*)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s&,;)]+)", re.I
)
TOKEN_SHAPES = re.compile(r"(?:Bearer|Token|Basic)\s+[^\s'\",]+|r8_[A-Za-z0-9]{8,}|whsec_[A-Za-z0-9+/=]+", re.I)


def release(settings: Settings) -> str:
    """SENTRY_RELEASE, else this package's version (`pixelglow-admin@0.1.0`)."""
    if settings.sentry_release:
        return settings.sentry_release
    try:
        return f"pixelglow-admin@{metadata.version('pixelglow-admin')}"
    except metadata.PackageNotFoundError:
        return "pixelglow-admin@unknown"


def configured_secrets(settings: Settings) -> list[str]:
    """Every secret value the settings hold, longest first (so a secret containing another is blanked whole)."""
    values = [
        settings.replicate_api_token,
        settings.admin_api_token,
        settings.metrics_token,
        settings.secret_key,
        settings.gallery_feed_token,
        settings.webhook_secret,
        settings.s3.secret_access_key,
        urlsplit(settings.database_url).password,
        urlsplit(settings.redis_url or "").password,
    ]
    return sorted({v for v in values if v and len(v) >= 6}, key=len, reverse=True)


class Scrubber:
    """sentry-sdk's before_send: the event with every secret blanked (the event is already plain JSON values)."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = secrets

    def __call__(self, event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        cleaned: dict[str, Any] = self.clean(event)
        return cleaned

    def clean(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: FILTERED if self.sensitive(k) else self.clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.clean_pair(v) if _is_pair(v) else self.clean(v) for v in value]
        if isinstance(value, str):
            return self.clean_text(value)
        return value

    def clean_pair(self, pair: list) -> list:
        """Headers and cookies may come as [name, value] pairs."""
        name, item = pair
        return [self.clean_text(name), FILTERED if self.sensitive(name) else self.clean(item)]

    @staticmethod
    def sensitive(key: Any) -> bool:
        return isinstance(key, str) and SENSITIVE_KEY.search(key) is not None

    def clean_text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, FILTERED)
        text = TOKEN_SHAPES.sub(FILTERED, text)
        return KEY_VALUE.sub(lambda match: f"{match[1]}{match[2]}{FILTERED}", text)


def _is_pair(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[0], str)


def start_error_reporting(settings: Settings) -> bool:
    """Start sentry-sdk when SENTRY_DSN is set (once per process; the web app and the consumer each call it)."""
    if not settings.sentry_dsn:
        return False
    if sentry_sdk.get_client().is_active():
        return True
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        release=release(settings),
        environment=settings.sentry_environment,
        send_default_pii=False,
        integrations=[FlaskIntegration(), HueyIntegration()],
        before_send=Scrubber(configured_secrets(settings)),  # type: ignore[arg-type]
        max_request_body_size="never",  # a sign-in's password never leaves, whatever the scrubber misses
    )
    return True
