"""Who did what: preset changes, usage clears and deletions, each with its actor (an admin's email,
"token NAME" for an API token, "cli USER" for a command)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Model, db
from app.models import utcnow

RECENT = 200


class AuditEvent(Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[str | None] = mapped_column(Text)


def record(actor: str | None, action: str, target: str | None = None, detail: str | None = None) -> AuditEvent:
    """Add an event to the session; it is committed with the change it describes."""
    event = AuditEvent(
        at=utcnow(), actor=(actor or "unknown")[:200], action=action[:40], target=(target or "")[:300] or None
    )
    event.detail = detail
    db.session.add(event)
    return event


def recent_events(limit: int = RECENT) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    return list(db.session.scalars(query))
