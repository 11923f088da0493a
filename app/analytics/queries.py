"""The grouped queries behind a report: six, whatever the number of presets, models or rows.

Each big table is read once: the examples (by model and state, by preset, provider and state, by day), the
job items (by model, provider and state), the durations (by provider), the ledger (by preset and provider, by
day) and the usage rows (by model, by preset). Several groupings of one table come from one statement:
`GROUPING SETS` on PostgreSQL (one scan), `UNION ALL` of plain `GROUP BY`s on SQLite, which has none.
Days, not ISO weeks, are grouped in SQL because SQLite (3.40) has no ISO week; weeks are summed in Python.

Each function returns a `Query`, the statement and how its rows become figures, so `runner` can run the
independent statements at once (see there).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, case, func, literal, null, select, tuple_, union_all
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.sql import Executable

from ..models import GalleryExample, ItemState, Job, JobItem, Preset, PresetModelUsage, SpendEntry, UsageState
from ..spend import usd
from .period import Period

ENDED = (ItemState.SUCCEEDED, ItemState.FAILED)  # canceled items are the admin's choice, not the model's outcome


@dataclass(frozen=True)
class Query:
    """A statement and what turns its rows into figures."""

    statement: Executable
    read: Callable[[Sequence[Any]], Any]

    def then(self, more: Callable[[Any], Any]) -> Query:
        """The same statement, its figures passed on through `more`."""
        return Query(self.statement, lambda rows: more(self.read(rows)))


def grouped(
    dialect: str, keys: Sequence, sets: Sequence[Sequence[int]], aggregates: Sequence, where: Sequence
) -> Query:
    """For each grouping set (indexes into `keys`), the rows (its keys' values..., aggregates...), in one
    statement. `where` filters the one table the keys and aggregates read."""
    if dialect == "postgresql":
        statement: Executable = (
            select(func.grouping(*keys), *keys, *aggregates)
            .where(*where)
            .group_by(func.grouping_sets(*[tuple_(*(keys[k] for k in s)) for s in sets]))
        )
        # GROUPING() sets a bit, first key highest, for each key a row is not grouped by
        masks = {sum(1 << (len(keys) - 1 - k) for k in range(len(keys)) if k not in s): n for n, s in enumerate(sets)}
    else:
        branches = [
            select(literal(n), *(key if k in s else null() for k, key in enumerate(keys)), *aggregates)
            .where(*where)
            .group_by(*(keys[k] for k in s))
            for n, s in enumerate(sets)
        ]
        statement, masks = union_all(*branches), {n: n for n in range(len(sets))}

    def split(rows: Sequence[Any]) -> list[list[tuple]]:
        found: list[list[tuple]] = [[] for _ in sets]
        for mark, *values in rows:
            n = masks[mark]
            found[n].append(tuple(values[k] for k in sets[n]) + tuple(values[len(keys) :]))  # the set's key order
        return found

    return Query(statement, split)


def examples(dialect: str, period: Period) -> Query:
    """Examples stored in the range: (model, state, n), (preset, provider, state, n), (day, n)."""
    e = GalleryExample
    keys = (e.model_id, e.state, e.preset_id, e.provider, func.date(e.created_at))
    sets = ((0, 1), (2, 3, 1), (4,))
    return grouped(dialect, keys, sets, [func.count()], [period.covers(e.created_at)]).then(
        lambda found: (found[0], found[1], [(as_date(day), n) for day, n in found[2]])
    )


def items(period: Period) -> Query:
    """(model, provider, state, n) of the ended items of the jobs created in the range."""
    statement = (
        select(JobItem.model_id, Job.provider, JobItem.state, func.count())
        .select_from(JobItem)
        .join(Job, Job.id == JobItem.job_id)
        .where(period.covers(Job.created_at), JobItem.state.in_(ENDED))
        .group_by(JobItem.model_id, Job.provider, JobItem.state)
    )
    return Query(statement, lambda rows: [tuple(row) for row in rows])


def _timed_items(period: Period) -> Select:
    return (
        select(Job.provider)
        .select_from(JobItem)
        .join(Job, Job.id == JobItem.job_id)
        .where(period.covers(Job.created_at), JobItem.state == ItemState.SUCCEEDED)
        .where(JobItem.prediction_seconds.is_not(None))
    )


def durations_by_provider(dialect: str, period: Period) -> Query:
    """{provider: (count, median, p95)} of the time to result of succeeded items, in seconds.

    Percentiles interpolate linearly between the two nearest ranks (PostgreSQL's `percentile_cont`,
    position p × (n − 1) in the sorted values). PostgreSQL hashes each provider's durations into an array
    and sorts each array once for both percentiles (a `GROUP BY` of `percentile_cont` itself would first
    sort every row by provider, on disk past work_mem). SQLite has no percentile, so it fetches the
    durations and the same formula runs here."""
    seconds = JobItem.prediction_seconds
    if dialect == "postgresql":
        timed = (
            _timed_items(period)
            .add_columns(func.count().label("n"), func.array_agg(seconds).label("seconds"))
            .group_by(Job.provider)
            .subquery()
        )
        value = func.unnest(timed.c.seconds).column_valued("value")
        both = select(func.percentile_cont(array([0.5, 0.95])).within_group(value)).scalar_subquery()
        return Query(
            select(timed.c.provider, timed.c.n, both),
            lambda rows: {provider: (int(n), float(p[0]), float(p[1])) for provider, n, p in rows},
        )

    def compute(rows: Sequence[Any]) -> dict[str, tuple[int, float, float]]:
        values: dict[str, list[float]] = {}
        for provider, value in rows:
            values.setdefault(provider, []).append(float(value))
        return {provider: (len(v), percentile(v, 0.5), percentile(v, 0.95)) for provider, v in values.items()}

    return Query(_timed_items(period).add_columns(seconds), compute)


def percentile(values: list[float], fraction: float) -> float:
    """`percentile_cont`: linear interpolation at position fraction × (n − 1) of the sorted values."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spend(dialect: str, period: Period) -> Query:
    """Ledger entries recorded in the range: (preset, provider, USD), (day, USD)."""
    s = SpendEntry
    keys = (s.preset_id, s.provider, func.date(s.created_at))
    return grouped(dialect, keys, ((0, 1), (2,)), [func.sum(s.amount)], [period.covers(s.created_at)]).then(
        lambda found: ([(p, v, usd(t)) for p, v, t in found[0]], [(as_date(day), usd(t)) for day, t in found[1]])
    )


def as_date(value) -> date:
    """`date(...)` comes back as a date on PostgreSQL and as text on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def usage(dialect: str, registry_ids: Collection[str]) -> Query:
    """Now, whatever the range (usage is a state, not a history): ({model: presets that have used it},
    {preset: models of the registry it has used})."""
    u = PresetModelUsage
    in_registry = func.sum(case((u.model_id.in_(list(registry_ids)), 1), else_=0))
    return grouped(
        dialect, (u.model_id, u.preset_id), ((0,), (1,)), [func.count(), in_registry], [u.state == UsageState.USED]
    ).then(lambda found: ({m: int(n) for m, n, _ in found[0]}, {p: int(n or 0) for p, _, n in found[1]}))


def presets() -> Query:
    """(id, name, provider) of every preset, by name."""
    statement = select(Preset.id, Preset.name, Preset.provider).order_by(Preset.name)
    return Query(statement, lambda rows: [(pid, name, provider) for pid, name, provider in rows])
