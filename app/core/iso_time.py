"""Reading an ISO 8601 time, in one place: the progress records', Replicate's answers and the admin's all
write them so ("…Z", an offset, or none: then UTC is meant)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_utc(value: object) -> datetime | None:
    """`value` as an aware UTC time; None when it is empty or not an ISO 8601 time."""
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def parse_naive_utc(value: object) -> datetime | None:
    """`value` as a naive UTC time, as the database keeps times; None when it is not an ISO 8601 time."""
    stamp = parse_utc(value)
    return stamp.replace(tzinfo=None) if stamp else None
