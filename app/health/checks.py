"""One check's finding, and how a probe's exception becomes one without leaking a secret."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from app.core.config import Settings
from app.core.database import db
from app.services import Services

CREDENTIALS_IN_URL = re.compile(r"(://[^/\s:@]*:)[^/\s@]+@")
MAX_CAUSE = 300


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # what was found; safe for anyone to read (/readyz is public): no URL, password or token
    fix: str = ""  # what to do, when it failed
    cause: str = ""  # the underlying error, for the operator (`doctor`), with secrets removed


class Down(Exception):
    """A probe's finding that the part is not working: what, and what to do."""

    def __init__(self, detail: str, fix: str, cause: str = "") -> None:
        super().__init__(detail)
        self.detail, self.fix, self.cause = detail, fix, cause


Probe = Callable[[Services], str]


def run_check(name: str, probe: Probe, services: Services, fix: str) -> Check:
    """`probe` returns what it found, or raises Down; any other exception is the part failing (`fix` applies)."""
    try:
        return Check(name, True, probe(services))
    except Down as down:
        return Check(name, False, down.detail, down.fix, redact(down.cause, services.settings))
    except Exception as exc:  # a probe's failure is a finding, never an error of the check itself
        db.session.rollback()
        cause = redact(f"{exc.__class__.__name__}: {exc}", services.settings)
        return Check(name, False, f"failed ({exc.__class__.__name__})", fix, cause)


def secrets_of(settings: Settings) -> list[str]:
    """Every value that must never be printed: tokens, keys, and the passwords inside the service URLs."""
    values = [settings.secret_key, settings.admin_api_token, settings.replicate_api_token, settings.webhook_secret]
    values += [settings.s3.secret_access_key, settings.s3.session_token]
    for url in (settings.database_url, settings.redis_url):
        match = CREDENTIALS_IN_URL.search(url or "")
        if match:
            values.append(match.group(0)[len(match.group(1)) : -1])
    return [v for v in values if v and len(v) >= 4]


def redact(text: str, settings: Settings) -> str:
    """`text` on one line, shortened, without credentials in URLs or any secret of the settings."""
    text = CREDENTIALS_IN_URL.sub(r"\1***@", " ".join(text.split()))
    for secret in secrets_of(settings):
        text = text.replace(secret, "***")
    return text[:MAX_CAUSE]
