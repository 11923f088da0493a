"""Named API tokens: several scripts, each with its own token, each revocable without downtime.

Only a SHA-256 of each token is stored (tokens are long random strings, so a plain hash suffices); the
token itself is shown once, when it is created. A token may be given a lifetime (`--expires 90d`): past it,
it gets 401 saying so. `ADMIN_API_TOKEN` from the environment, when set, works beside them (the bootstrap
and break-glass token).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Model, db
from app.models import new_id, utcnow

PREFIX = "pgt_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_TOKEN_LENGTH = 200
LIFETIME = re.compile(r"^(\d{1,5})([hdw])$")
LIFETIME_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MAX_LIFETIME = timedelta(days=3660)  # ten years: a longer one is a typo, or no expiry meant


class TokenError(ValueError):
    """A token name or lifetime that cannot be used; the message says why."""


class ApiToken(Model):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # None: never

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def parse_lifetime(text: str) -> timedelta:
    """A token's lifetime as typed: a whole number of hours, days or weeks ("12h", "90d", "8w")."""
    match = LIFETIME.match((text or "").strip().lower())
    if not match or int(match.group(1)) == 0:
        raise TokenError(f"{text!r} is not a lifetime: give a whole number of hours, days or weeks, e.g. 12h, 90d, 8w.")
    lifetime = int(match.group(1)) * LIFETIME_UNITS[match.group(2)]
    if lifetime > MAX_LIFETIME:
        raise TokenError(f"{text!r} is longer than ten years: leave --expires out for a token that never expires.")
    return lifetime


def create_token(name: str, created_by: str | None = None, lifetime: timedelta | None = None) -> tuple[ApiToken, str]:
    """A new token named `name`, expiring after `lifetime` (None: never); returns the row and the token (shown
    once, never stored)."""
    if not NAME.match(name or ""):
        raise TokenError("A token name is 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit.")
    if db.session.scalar(select(ApiToken).where(ApiToken.name == name)) is not None:
        raise TokenError(f"A token named {name!r} already exists (revoked tokens keep their name).")
    token = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + lifetime if lifetime is not None else None
    row = ApiToken(
        name=name, token_hash=hash_token(token), created_at=now, created_by=created_by, expires_at=expires_at
    )
    db.session.add(row)
    return row, token


def find_active_token(token: str) -> ApiToken | None:
    """The token's row unless revoked (an expired one too: the caller says it expired)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.startswith(PREFIX):
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    return row if row is not None and row.active else None


def revoke_token(name: str) -> ApiToken:
    row = db.session.scalar(select(ApiToken).where(ApiToken.name == name))
    if row is None:
        raise TokenError(f"No token named {name!r}.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def all_tokens() -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.created_at)))
