"""The grouped queries behind a report: six, whatever the number of presets, models or rows.

Each big table is read once: the examples (by model and state, by preset, provider and state, by day), the
job items (by model, provider and state), the durations (by provider), the ledger (by preset and provider, by
day) and the usage rows (by model, by preset). Several groupings of one table come from one statement:
`GROUPING SETS` on PostgreSQL (one scan), `UNION ALL` of plain `GROUP BY`s on SQLite, which has none.
Days, not ISO weeks, are grouped in SQL because SQLite (3.40) has no ISO week; weeks are summed in Python.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, literal, null, select, tuple_, union_all
from sqlalchemy.dialects.postgresql import array

from ..database import db
from ..models import GalleryExample, ItemState, Job, JobItem, Preset, PresetModelUsage, SpendEntry, UsageState
from ..spend import usd
from .period import Period

ENDED = (ItemState.SUCCEEDED, ItemState.FAILED)  # canceled items are the admin's choice, not the model's outcome


def grouped(keys: Sequence, sets: Sequence[Sequence[int]], aggregates: Sequence, where: Sequence) -> list[list[tuple]]:
    """For each grouping set (indexes into `keys`), the rows (its keys' values..., aggregates...), in one
    statement. `where` filters the one table the keys and aggregates read."""
    if db.engine.dialect.name == "postgresql":
        query = (
            select(func.grouping(*keys), *keys, *aggregates)
            .where(*where)
            .group_by(func.grouping_sets(*[tuple_(*(keys[k] for k in s)) for s in sets]))
        )
        # GROUPING() sets a bit, first key highest, for each key a row is not grouped by
        masks = {sum(1 << (len(keys) - 1 - k) for k in range(len(keys)) if k not in s): n for n, s in enumerate(sets)}
        rows = [(masks[mask], *rest) for mask, *rest in db.session.execute(query)]
    else:
        branches = [
            select(literal(n), *(key if k in s else null() for k, key in enumerate(keys)), *aggregates)
            .where(*where)
            .group_by(*(keys[k] for k in s))
            for n, s in enumerate(sets)
        ]
        rows = [tuple(row) for row in db.session.execute(union_all(*branches))]
    found: list[list[tuple]] = [[] for _ in sets]
    for n, *values in rows:
        found[n].append(tuple(values[k] for k in sets[n]) + tuple(values[len(keys) :]))  # the set's key order
    return found


def examples(period: Period) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Examples stored in the range: (model, state, n), (preset, provider, state, n), (day, n)."""
    e = GalleryExample
    keys = (e.model_id, e.state, e.preset_id, e.provider, func.date(e.created_at))
    by_model, by_preset, by_day = grouped(
        keys, ((0, 1), (2, 3, 1), (4,)), [func.count()], [period.covers(e.created_at)]
    )
    return by_model, by_preset, [(as_date(day), n) for day, n in by_day]


def items(period: Period) -> list[tuple[str, str, str, int]]:
    """(model, provider, state, n) of the ended items of the jobs created in the range."""
    query = (
        select(JobItem.model_id, Job.provider, JobItem.state, func.count())
        .select_from(JobItem)
        .join(Job, Job.id == JobItem.job_id)
        .where(period.covers(Job.created_at), JobItem.state.in_(ENDED))
        .group_by(JobItem.model_id, Job.provider, JobItem.state)
    )
    return [tuple(row) for row in db.session.execute(query)]  # type: ignore[misc]


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
        both = func.percentile_cont(array([0.5, 0.95])).within_group(seconds)  # one sort for both
        query = _timed_items(period).add_columns(func.count(), both).group_by(Job.provider)
        return {provider: (int(n), float(p[0]), float(p[1])) for provider, n, p in db.session.execute(query)}
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


def spend(period: Period) -> tuple[list[tuple], list[tuple[date, Decimal]]]:
    """Ledger entries recorded in the range: (preset, provider, USD), (day, USD)."""
    s = SpendEntry
    keys = (s.preset_id, s.provider, func.date(s.created_at))
    by_preset, by_day = grouped(keys, ((0, 1), (2,)), [func.sum(s.amount)], [period.covers(s.created_at)])
    return [(p, v, usd(t)) for p, v, t in by_preset], [(as_date(day), usd(t)) for day, t in by_day]


def as_date(value) -> date:
    """`date(...)` comes back as a date on PostgreSQL and as text on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def usage(registry_ids: Collection[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Now, whatever the range (usage is a state, not a history): ({model: presets that have used it},
    {preset: models of the registry it has used})."""
    u = PresetModelUsage
    in_registry = func.sum(case((u.model_id.in_(list(registry_ids)), 1), else_=0))
    by_model, by_preset = grouped(
        (u.model_id, u.preset_id), ((0,), (1,)), [func.count(), in_registry], [u.state == UsageState.USED]
    )
    return {m: int(n) for m, n, _ in by_model}, {p: int(n or 0) for p, _, n in by_preset}


def presets() -> list[tuple[str, str, str]]:
    """(id, name, provider) of every preset, by name."""
    query = select(Preset.id, Preset.name, Preset.provider).order_by(Preset.name)
    return [(pid, name, provider) for pid, name, provider in db.session.execute(query)]
