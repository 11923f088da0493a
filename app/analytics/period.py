"""The date range an analytics report covers: UTC calendar days, both ends included.

Each row counts on its own day: an example on the day it was stored, an item on the day its job was
created (`jobs.created_at`, so every item of a job counts together), a spend entry on the day it was
recorded (when its prediction ended). The range is turned into half-open datetime bounds
(`start <= t < end`) so a row at 23:59:59.999 on the last day still counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement

from app.core.errors import AppError
from app.models import utcnow

DEFAULT_DAYS = 90
MAX_DAYS = 366 * 5  # five years: a range longer than that is almost surely a typo in the year


class AnalyticsError(AppError):
    """A report that cannot be made as asked (a date that is not one, a range that runs backwards)."""


@dataclass(frozen=True)
class Period:
    first: date  # first day included
    last: date  # last day included

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time())

    @property
    def end(self) -> datetime:
        """The first moment after the range (exclusive bound)."""
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time())

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def covers(self, column: Any) -> ColumnElement[bool]:
        """The SQL condition: `column` falls within the range."""
        return (column >= self.start) & (column < self.end)


def parse_day(value: str, name: str) -> date:
    """A YYYY-MM-DD date, or a 400 naming the parameter and the value it got."""
    text = value.strip()
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise AnalyticsError(f"{name}={value[:40]!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-11-24.") from None


def parse_period(first: str | None, last: str | None, today: date) -> Period:
    """The range asked for with `from` and `to` (each optional): `to` defaults to today (UTC) and `from` to
    the 90 days ending at `to`. 400 for a value that is not a date, `from` after `to`, or more than five years."""
    last_day = parse_day(last, "to") if last else today
    first_day = parse_day(first, "from") if first else last_day - timedelta(days=DEFAULT_DAYS - 1)
    if first_day > last_day:
        raise AnalyticsError(f"from={first_day.isoformat()} is after to={last_day.isoformat()}: swap them.")
    period = Period(first_day, last_day)
    if period.days > MAX_DAYS:
        raise AnalyticsError(
            f"The range {first_day} – {last_day} spans {period.days} days; ask for at most {MAX_DAYS} at a time."
        )
    return period


def period_of(args: Mapping[str, str]) -> Period:
    """The range a request asks for (`?from=YYYY-MM-DD&to=YYYY-MM-DD`, UTC days, both included; the last 90 days
    by default), or an AnalyticsError (400) naming the value: the page, its CSV files and the API share it."""
    return parse_period(args.get("from") or None, args.get("to") or None, utcnow().date())
