"""The grouped queries behind a report: five, whatever the number of presets, models or rows.

Each big table is read once: the examples (by model and state, by preset, provider and state, by day), the
job items with their jobs (by model, provider and state; the durations by provider), the ledger (by preset
and provider, by day; each apart for comparisons) and the usage rows (by model, by preset); then the presets'
names. Several groupings of one table come from one statement: `GROUPING SETS` on PostgreSQL (one scan),
`UNION ALL` of plain `GROUP BY`s on SQLite, which has none.
Days, not ISO weeks, are grouped in SQL because SQLite (3.40) has no ISO week; weeks are summed in Python.

Each function returns a `Query`, the statement and how its rows become figures, so `runner` can run the
independent statements at once (see there).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, func, literal, null, select, true, tuple_, union_all
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.sql import Executable

from app.analytics.period import Period
from app.models import GalleryExample, ItemState, Job, JobItem, Preset, PresetModelUsage, SpendEntry, UsageState
from app.spend.ledger import usd

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


def outcomes(dialect: str, period: Period) -> Query:
    """What became of the items of the jobs created in the range, from one join of items and jobs:
    ([(model, provider, state, n) of the ended items], {provider: (count, median, p95)} of the time to
    result of the succeeded items, in seconds).

    Percentiles interpolate linearly between the two nearest ranks (PostgreSQL's `percentile_cont`,
    position p × (n − 1) in the sorted values). PostgreSQL gathers each group's durations into an array
    while it counts (hashing, no sort of every row), then sorts each provider's once for both percentiles.
    SQLite has no percentile (nor arrays): it returns the durations after the counts, and the same formula
    runs here."""
    ended = [period.covers(Job.created_at), JobItem.state.in_(ENDED)]
    timed = (JobItem.state == ItemState.SUCCEEDED) & JobItem.prediction_seconds.is_not(None)
    keys = (JobItem.model_id, Job.provider, JobItem.state)
    joined = select().select_from(JobItem).join(Job, Job.id == JobItem.job_id)
    if dialect == "postgresql":
        seconds = func.array_agg(JobItem.prediction_seconds).filter(timed)
        groups = joined.add_columns(*keys, func.count().label("n"), seconds.label("seconds")).where(*ended)
        fine = groups.group_by(*keys).cte("fine")
        timed_count = func.sum(func.cardinality(fine.c.seconds))
        by_provider = select(fine.c.provider, timed_count.label("timed")).group_by(fine.c.provider)
        providers = by_provider.having(timed_count > 0).subquery("providers")
        one = fine.alias("one")
        spread = func.unnest(one.c.seconds).table_valued("value").render_derived("spread")
        both = select(func.percentile_cont(array([0.5, 0.95])).within_group(spread.c.value))
        both = both.select_from(one.join(spread, true())).where(one.c.provider == providers.c.provider)
        statement: Executable = union_all(
            select(literal(0), fine.c.model_id, fine.c.provider, fine.c.state, fine.c.n, null()),
            select(literal(1), null(), providers.c.provider, null(), providers.c.timed, both.scalar_subquery()),
        )
    else:
        counts = joined.add_columns(literal(0), *keys, func.count(), null()).where(*ended).group_by(*keys)
        values = joined.add_columns(literal(1), null(), Job.provider, null(), null(), JobItem.prediction_seconds)
        statement = union_all(counts, values.where(period.covers(Job.created_at), timed))
    return Query(statement, lambda rows: _outcomes(dialect, rows))


def _outcomes(dialect: str, rows: Sequence[Any]) -> tuple[list[tuple], dict[str, tuple[int, float, float]]]:
    counts = [(model_id, provider, state, n) for mark, model_id, provider, state, n, _ in rows if mark == 0]
    if dialect == "postgresql":
        durations = {provider: (int(n), float(p[0]), float(p[1])) for mark, _, provider, _, n, p in rows if mark == 1}
        return counts, durations
    values: dict[str, list[float]] = {}
    for mark, _, provider, _, _, value in rows:
        if mark == 1:
            values.setdefault(provider, []).append(float(value))
    return counts, {provider: (len(v), percentile(v, 0.5), percentile(v, 0.95)) for provider, v in values.items()}


def percentile(values: list[float], fraction: float) -> float:
    """`percentile_cont`: linear interpolation at position fraction × (n − 1) of the sorted values."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spend(dialect: str, period: Period) -> Query:
    """Ledger entries recorded in the range: (preset, provider, for a comparison, USD), (day, for a comparison,
    USD). An entry tagged to a comparison was spent on it, not on a gallery (`SpendEntry.comparison_id`)."""
    s = SpendEntry
    keys = (s.preset_id, s.provider, func.date(s.created_at), s.comparison_id.is_not(None))
    sets = ((0, 1, 3), (2, 3))
    return grouped(dialect, keys, sets, [func.sum(s.amount)], [period.covers(s.created_at)]).then(
        lambda found: (
            [(p, v, bool(compared), usd(t)) for p, v, compared, t in found[0]],
            [(as_date(day), bool(compared), usd(t)) for day, compared, t in found[1]],
        )
    )


def as_date(value: date | str) -> date:
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
