"""Who did what: preset changes, curation, usage clears and deletions, cancels, tokens and accounts, each with
its actor (an admin's email, "token NAME" for an API token, "cli USER" for a command), the preset it concerns
and the ids it acted on, read back a page at a time and filtered by preset, person and kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Model, db
from app.models import JsonType, utcnow

PER_PAGE = 50
MAX_SUBJECTS = 200
# what an action is about, by the first part of its code ("example.approve" → example), as the filter names it
KINDS = {
    "example": "Examples",
    "job": "Jobs",
    "comparison": "Comparisons",
    "usage": "Model usage",
    "preset": "Presets",
    "token": "API tokens",
    "user": "Admins",
}


class AuditEvent(Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[str | None] = mapped_column(Text)
    preset_id: Mapped[str | None] = mapped_column(String(32), index=True)  # the preset it concerns, if any
    subjects: Mapped[list[str] | None] = mapped_column(JsonType)  # the ids acted on: examples, a job, a model

    @property
    def kind(self) -> str:
        return self.action.split(".", 1)[0]


def record(
    actor: str | None,
    action: str,
    target: str | None = None,
    detail: str | None = None,
    *,
    preset_id: str | None = None,
    subjects: list[str] | None = None,
) -> AuditEvent:
    """Add an event to the session; it is committed with the change it describes."""
    event = AuditEvent(
        at=utcnow(), actor=(actor or "unknown")[:200], action=action[:40], target=(target or "")[:300] or None
    )
    event.detail = detail
    event.preset_id = preset_id
    event.subjects = list(subjects)[:MAX_SUBJECTS] if subjects else None
    db.session.add(event)
    return event


@dataclass(frozen=True)
class ActivityFilter:
    """Which events, which page: the activity page's query string (preset, person, kind, page)."""

    preset_id: str | None = None
    actor: str | None = None
    kind: str | None = None
    page: int = 1

    def filtered(self, query: Select) -> Select:
        if self.preset_id:
            query = query.where(AuditEvent.preset_id == self.preset_id)
        if self.actor:
            query = query.where(AuditEvent.actor == self.actor)
        if self.kind:
            query = query.where(AuditEvent.action.like(f"{self.kind}.%"))
        return query


def activity_page(wanted: ActivityFilter, per_page: int = PER_PAGE) -> tuple[list[AuditEvent], int]:
    """One page of the events `wanted` names, newest first, and how many there are in all."""
    total = db.session.scalar(wanted.filtered(select(func.count()).select_from(AuditEvent))) or 0
    query = wanted.filtered(select(AuditEvent)).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    events = db.session.scalars(query.offset((wanted.page - 1) * per_page).limit(per_page))
    return list(events), total


def actors() -> list[str]:
    """Everyone who has an event, for the person filter."""
    return list(db.session.scalars(select(AuditEvent.actor).distinct().order_by(AuditEvent.actor)))
