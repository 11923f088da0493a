"""What `/metrics` reads from the database at scrape time (so every web worker on every machine answers alike):
jobs by status, items by state, the time from a job's creation to each stored example, spend this month."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

from app.core.database import db
from app.models import GalleryExample, Job, JobItem, SpendEntry
from app.spend.ledger import month_of

# seconds from a job's creation to one of its examples being stored
TIME_TO_EXAMPLE_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


def jobs_by_status() -> dict[str, int]:
    return {status: n for status, n in db.session.execute(select(Job.status, func.count()).group_by(Job.status))}


def items_by_state() -> dict[str, int]:
    rows = db.session.execute(select(JobItem.state, func.count()).group_by(JobItem.state))
    return {state: n for state, n in rows}


def jobs_waiting() -> int:
    """Jobs queued and not yet taken by a consumer."""
    return db.session.scalar(select(func.count()).select_from(Job).where(Job.status == "queued")) or 0


def _seconds_between(start: Any, end: Any) -> Any:
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def time_to_example() -> tuple[list[int], int, float]:
    """(cumulative count per bucket of TIME_TO_EXAMPLE_BUCKETS, count, sum of seconds) over the stored examples
    whose job is still kept (`jobs prune` removes old jobs: the histogram then starts again lower)."""
    seconds = _seconds_between(Job.created_at, GalleryExample.created_at)
    columns = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in TIME_TO_EXAMPLE_BUCKETS]
    query = select(*columns, func.count(), func.sum(seconds)).join(Job, Job.id == GalleryExample.job_id)
    row = db.session.execute(query).one()
    *buckets, count, total = row
    return [int(b or 0) for b in buckets], int(count or 0), float(total or 0.0)


def spend_by_provider(month: str | None = None) -> dict[str, Decimal]:
    """USD the ledger holds for this UTC month, by provider."""
    query = select(SpendEntry.provider, func.sum(SpendEntry.amount)).where(SpendEntry.month == (month or month_of()))
    return {provider: Decimal(total) for provider, total in db.session.execute(query.group_by(SpendEntry.provider))}
