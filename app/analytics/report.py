"""An analytics report as plain data (camelCase, JSON-ready): the API answers it, the page and the CSV
files are views of the same rows, so the three always show the same numbers.

Rates carry their counts (`approved` of `reviewed`, `failed` of `ended`) and are None when the count
below the line is 0 (the fraction is rounded to 4 decimals; the counts are exact); amounts are exact
decimal text (USD); seconds are as computed (the page rounds them to a tenth, the CSV to a millisecond).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from app.analytics import queries, runner
from app.analytics.period import Period
from app.models import CurationState, ItemState
from app.pool.registry import Registry
from app.provider_rows import active_providers
from app.spend.ledger import ZERO, as_text

APPROVED = (CurationState.APPROVED, CurationState.FEATURED)
REVIEWED = (*APPROVED, CurationState.REJECTED)


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def quality(states: dict, ended_failed: tuple[int, int]) -> dict:
    """Examples, approval (approved + featured of the reviewed) and failure (failed of the ended items)."""
    approved = sum(states.get(s, 0) for s in APPROVED)
    reviewed = sum(states.get(s, 0) for s in REVIEWED)
    ended, failed = ended_failed
    return {
        "examples": sum(states.get(s, 0) for s in CurationState),
        "approved": approved,
        "reviewed": reviewed,
        "approvalRate": rate(approved, reviewed),
        "ended": ended,
        "failed": failed,
        "failureRate": rate(failed, ended),
    }


def ordered(known: Iterable[str], *found: Iterable) -> list[str]:
    """The known keys in their order, then any other key the data holds (e.g. a model no longer in
    models.json, a provider no longer offered), sorted; None keys are skipped."""
    keys = list(known)
    extra = {k for f in found for k in f if k is not None} - set(keys)
    return keys + sorted(extra)


class Tally:
    """Counts by key and state (examples), and (ended, failed) by key (items)."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.items: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def example(self, key: str, state: str, n: int) -> None:
        self.states[key][state] += n

    def item(self, key: str, state: str, n: int) -> None:
        self.items[key][0] += n
        self.items[key][1] += n if state == ItemState.FAILED else 0

    def quality(self, key: str) -> dict:
        ended, failed = self.items.get(key, (0, 0))
        return quality(self.states.get(key, {}), (ended, failed))


@dataclass
class Rows:
    """What the grouped queries answered, tallied by model, provider and preset."""

    models: Tally = field(default_factory=Tally)
    providers: Tally = field(default_factory=Tally)
    presets: Tally = field(default_factory=Tally)
    durations: dict = field(default_factory=dict)
    spend_by_preset: dict = field(default_factory=lambda: defaultdict(Decimal))  # all: galleries and comparisons
    spend_by_provider: dict = field(default_factory=lambda: defaultdict(Decimal))
    spend_by_day: dict = field(default_factory=lambda: defaultdict(Decimal))
    compared_by_preset: dict = field(default_factory=lambda: defaultdict(Decimal))  # of which on comparisons
    compared_by_provider: dict = field(default_factory=lambda: defaultdict(Decimal))
    compared_by_day: dict = field(default_factory=lambda: defaultdict(Decimal))
    examples_by_day: list = field(default_factory=list)
    presets_of_model: dict = field(default_factory=dict)
    models_of_preset: dict = field(default_factory=dict)
    preset_list: list = field(default_factory=list)  # (id, name, provider) of every preset, by name

    @classmethod
    def read(cls, period: Period, registry_ids: Sequence[str]) -> Rows:
        dialect = runner.dialect()
        found = runner.run(
            {
                "examples": queries.examples(dialect, period),
                "outcomes": queries.outcomes(dialect, period),
                "spend": queries.spend(dialect, period),
                "usage": queries.usage(dialect, registry_ids),
                "presets": queries.presets(),
            }
        )
        rows = cls()
        by_model, by_preset, rows.examples_by_day = found["examples"]
        for model_id, state, n in by_model:
            rows.models.example(model_id, state, n)
        for preset_id, provider, state, n in by_preset:
            rows.presets.example(preset_id, state, n)
            rows.providers.example(provider, state, n)
        items, rows.durations = found["outcomes"]
        for model_id, provider, state, n in items:
            rows.models.item(model_id, state, n)
            rows.providers.item(provider, state, n)
        rows.add_spend(*found["spend"])
        rows.presets_of_model, rows.models_of_preset = found["usage"]
        rows.preset_list = found["presets"]
        return rows

    def add_spend(self, spent: list[tuple], by_day: list[tuple]) -> None:
        """The ledger's sums: each counts in the whole, and apart when a comparison spent it."""
        for preset_id, provider, compared, amount in spent:  # a deleted preset's entries count for their provider
            self.spend_by_preset[preset_id] += amount
            self.spend_by_provider[provider] += amount
            if compared:
                self.compared_by_preset[preset_id] += amount
                self.compared_by_provider[provider] += amount
        for day, compared, amount in by_day:
            self.spend_by_day[day] += amount
            if compared:
                self.compared_by_day[day] += amount


def model_rows(rows: Rows, registry: Sequence[tuple[str, str]]) -> list[dict]:
    genders = dict(registry)
    return [
        {"modelId": model_id, "gender": genders.get(model_id), "presets": rows.presets_of_model.get(model_id, 0)}
        | rows.models.quality(model_id)
        for model_id in ordered(genders, rows.models.states, rows.models.items)
    ]


def provider_rows(rows: Rows, providers: Sequence[str]) -> list[dict]:
    table = []
    tally = rows.providers
    for provider in ordered(providers, tally.states, tally.items, rows.durations, rows.spend_by_provider):
        timed, median, p95 = rows.durations.get(provider, (0, None, None))
        table.append(
            {"provider": provider}
            | tally.quality(provider)
            | {
                "timed": timed,
                "medianSeconds": median,
                "p95Seconds": p95,
                "spendUsd": as_text(rows.spend_by_provider.get(provider, ZERO)),
                "comparisonsUsd": as_text(rows.compared_by_provider.get(provider, ZERO)),
            }
        )
    return table


def preset_rows(rows: Rows, pool: int) -> list[dict]:
    table = []
    for preset_id, name, provider in rows.preset_list:
        states = rows.presets.states.get(preset_id, {})
        used = rows.models_of_preset.get(preset_id, 0)
        table.append(
            {
                "presetId": preset_id,
                "name": name,
                "provider": provider,
                "modelsUsed": used,
                "poolSize": pool,
                "coverage": rate(used, pool),
                "examples": sum(states.get(s, 0) for s in CurationState),
            }
            | {str(state): states.get(state, 0) for state in CurationState}
            | {
                "spendUsd": as_text(rows.spend_by_preset.get(preset_id, ZERO)),
                "comparisonsUsd": as_text(rows.compared_by_preset.get(preset_id, ZERO)),
            }
        )
    return table


def iso_weeks(period: Period) -> list[tuple[str, date, date]]:
    """(label "2026-W35", first day in the range, last day in the range) of each ISO week the range touches."""
    weeks = []
    monday = period.first - timedelta(days=period.first.weekday())
    while monday <= period.last:
        year, week, _ = monday.isocalendar()
        weeks.append((f"{year}-W{week:02d}", max(monday, period.first), min(monday + timedelta(days=6), period.last)))
        monday += timedelta(days=7)
    return weeks


def week_rows(rows: Rows, period: Period) -> list[dict]:
    examples, spend, compared = dict(rows.examples_by_day), rows.spend_by_day, rows.compared_by_day
    table = []
    for label, first, last in iso_weeks(period):
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        total: Decimal = sum((spend.get(d, ZERO) for d in days), ZERO)
        on_comparisons: Decimal = sum((compared.get(d, ZERO) for d in days), ZERO)
        table.append(
            {
                "week": label,
                "from": first.isoformat(),
                "to": last.isoformat(),
                "days": len(days),
                "examples": sum(examples.get(d, 0) for d in days),
                "spendUsd": as_text(total),
                "comparisonsUsd": as_text(on_comparisons),
            }
        )
    return table


def totals(weeks: list[dict]) -> dict:
    """The range's examples and spend: all of it, on galleries and on comparisons (the two add up to all)."""
    spend = sum((Decimal(w["spendUsd"]) for w in weeks), ZERO)
    compared = sum((Decimal(w["comparisonsUsd"]) for w in weeks), ZERO)
    return {
        "examples": sum(w["examples"] for w in weeks),
        "spendUsd": as_text(spend),
        "galleriesUsd": as_text(spend - compared),
        "comparisonsUsd": as_text(compared),
    }


def build_report(period: Period, registry: Sequence[tuple[str, str]], providers: Sequence[str]) -> dict:
    """The whole report for `period`; `registry`: the reference models as (id, gender), in their order;
    `providers`: the provider names offered, in their order."""
    rows = Rows.read(period, [model_id for model_id, _ in registry])
    weeks = week_rows(rows, period)
    return {
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
        "days": period.days,
        "registrySize": len(registry),
        "totals": totals(weeks),
        "providers": provider_rows(rows, providers),
        "models": model_rows(rows, registry),
        "presets": preset_rows(rows, len(registry)),
        "weeks": weeks,
    }


def report_for(period: Period, registry: Registry) -> dict:
    """The report of `period` over the registry's models and the active providers (a retired or turned-off one
    appears when the period has its examples or jobs): what the page, its CSV files and the API show."""
    return build_report(period, [(m.id, m.gender) for m in registry.all], list(active_providers()))
