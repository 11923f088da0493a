"""The grouped queries behind a report: a fixed number of them whatever the number of presets or models.

Each query groups the whole range at once (by model, provider, preset or day); nothing is asked per row.
Days, not ISO weeks, are grouped in SQL because SQLite (3.40) has no ISO week; weeks are summed in Python.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, select

from ..database import db
from ..models import (
    CurationState,
    GalleryExample,
    ItemState,
    Job,
    JobItem,
    Preset,
    PresetModelUsage,
    SpendEntry,
    UsageState,
)
from ..spend import usd
from .period import Period

STATES = tuple(CurationState)
ENDED = (ItemState.SUCCEEDED, ItemState.FAILED)  # canceled items are the admin's choice, not the model's outcome


def _state_sums():
    return [func.sum(case((GalleryExample.state == state, 1), else_=0)) for state in STATES]


def examples_by(column, period: Period, distinct_presets: bool = False) -> dict[str, dict]:
    """{key: {state: count, ..., "presets": n}} of the examples stored in the range, grouped by `column`."""
    extra = [func.count(func.distinct(GalleryExample.preset_id))] if distinct_presets else []
    query = select(column, *_state_sums(), *extra).where(period.covers(GalleryExample.created_at)).group_by(column)
    found = {}
    for key, *values in db.session.execute(query):
        counts: dict[str, int] = {str(s): int(v or 0) for s, v in zip(STATES, values, strict=False)}
        if distinct_presets:
            counts["presets"] = int(values[-1])
        found[key] = counts
    return found


def items_by(column, period: Period) -> dict[str, tuple[int, int]]:
    """{key: (ended, failed)} of the items of the jobs created in the range, grouped by `column`."""
    failed = func.sum(case((JobItem.state == ItemState.FAILED, 1), else_=0))
    query = (
        select(column, func.count(), failed)
        .select_from(JobItem)
        .join(Job, Job.id == JobItem.job_id)
        .where(period.covers(Job.created_at), JobItem.state.in_(ENDED))
        .group_by(column)
    )
    return {key: (int(ended), int(failed or 0)) for key, ended, failed in db.session.execute(query)}


def _timed_items(period: Period):
    return (
        select(Job.provider)
        .select_from(JobItem)
        .join(Job, Job.id == JobItem.job_id)
        .where(period.covers(Job.created_at), JobItem.state == ItemState.SUCCEEDED)
        .where(JobItem.prediction_seconds.is_not(None))
    )


def durations_by_provider(period: Period) -> dict[str, tuple[int, float, float]]:
    """{provider: (count, median, p95)} of the time to result of succeeded items, in seconds.

    Percentiles interpolate linearly between the two nearest ranks (PostgreSQL's `percentile_cont`,
    position p × (n − 1) in the sorted values). PostgreSQL computes them in one grouped query; SQLite has
    no percentile, so it fetches the durations (one query) and the same formula runs here."""
    seconds = JobItem.prediction_seconds
    if db.engine.dialect.name == "postgresql":
        query = (
            _timed_items(period)
            .add_columns(
                func.count(),
                func.percentile_cont(0.5).within_group(seconds),
                func.percentile_cont(0.95).within_group(seconds),
            )
            .group_by(Job.provider)
        )
        return {provider: (int(n), float(mid), float(p95)) for provider, n, mid, p95 in db.session.execute(query)}
    values: dict[str, list[float]] = {}
    for provider, value in db.session.execute(_timed_items(period).add_columns(seconds)):
        values.setdefault(provider, []).append(float(value))
    return {provider: (len(v), percentile(v, 0.5), percentile(v, 0.95)) for provider, v in values.items()}


def percentile(values: list[float], fraction: float) -> float:
    """`percentile_cont`: linear interpolation at position fraction × (n − 1) of the sorted values."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spend_by(column, period: Period) -> dict:
    """{key: USD} of the ledger entries recorded in the range, grouped by `column`."""
    query = select(column, func.sum(SpendEntry.amount)).where(period.covers(SpendEntry.created_at)).group_by(column)
    return {key: usd(total) for key, total in db.session.execute(query)}


def as_date(value) -> date:
    """`date(...)` comes back as a date on PostgreSQL and as text on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def examples_by_day(period: Period) -> dict[date, int]:
    day = func.date(GalleryExample.created_at)
    query = select(day, func.count()).where(period.covers(GalleryExample.created_at)).group_by(day)
    return {as_date(key): int(n) for key, n in db.session.execute(query)}


def spend_by_day(period: Period) -> dict[date, Decimal]:
    return {as_date(key): total for key, total in spend_by(func.date(SpendEntry.created_at), period).items()}


def presets() -> list[tuple[str, str, str]]:
    """(id, name, provider) of every preset, by name."""
    query = select(Preset.id, Preset.name, Preset.provider).order_by(Preset.name)
    return [(pid, name, provider) for pid, name, provider in db.session.execute(query)]


def models_used(model_ids: Collection[str]) -> dict[str, int]:
    """{preset id: how many of `model_ids` (the registry's) it has used}, now: usage is a state, not a history."""
    query = (
        select(PresetModelUsage.preset_id, func.count())
        .where(PresetModelUsage.state == UsageState.USED, PresetModelUsage.model_id.in_(list(model_ids)))
        .group_by(PresetModelUsage.preset_id)
    )
    return {preset_id: int(n) for preset_id, n in db.session.execute(query)}
