"""Server-side sessions: the browser's cookie carries only a random token; everything else is a row here.

The row's id is the SHA-256 of the token, so a copy of the table signs nobody in. A session ends when its
row is deleted (sign-out, password change, "sign out everywhere", a disabled admin) or when it expires:
idle for longer than the idle timeout (sliding), or older than the absolute lifetime.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, delete, or_, select
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Model, db, rowcount
from app.models import JsonType, utcnow

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 100


class AdminSession(Model):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(cookie token)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    data: Mapped[dict] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def is_expired(row: AdminSession, idle: timedelta, lifetime: timedelta, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return now - row.last_seen_at > idle or now - row.created_at > lifetime


def create_session(data: dict, user_id: str | None, ip: str | None, user_agent: str | None) -> tuple[str, AdminSession]:
    token = new_token()
    now = utcnow()
    row = AdminSession(
        id=token_id(token),
        user_id=user_id,
        data=data,
        created_at=now,
        last_seen_at=now,
        ip=(ip or "")[:64] or None,
        user_agent=(user_agent or "")[:200] or None,
    )
    db.session.add(row)
    return token, row


def delete_session(session_id: str) -> None:
    db.session.execute(delete(AdminSession).where(AdminSession.id == session_id))


def revoke_user_sessions(user_id: str, keep: str | None = None) -> int:
    """End every session of the user (but `keep`, a session id); returns how many ended."""
    query = delete(AdminSession).where(AdminSession.user_id == user_id)
    if keep:
        query = query.where(AdminSession.id != keep)
    return rowcount(db.session.execute(query)) or 0


def user_sessions(user_id: str, idle: timedelta, lifetime: timedelta) -> list[AdminSession]:
    now = utcnow()
    rows = db.session.scalars(
        select(AdminSession).where(AdminSession.user_id == user_id).order_by(AdminSession.last_seen_at.desc())
    ).all()
    return [row for row in rows if not is_expired(row, idle, lifetime, now)]


def prune_expired(idle: timedelta, lifetime: timedelta) -> int:
    now = utcnow()
    query = delete(AdminSession).where(
        or_(AdminSession.last_seen_at < now - idle, AdminSession.created_at < now - lifetime)
    )
    return rowcount(db.session.execute(query)) or 0
