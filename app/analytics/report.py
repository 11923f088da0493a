"""An analytics report as plain data (camelCase, JSON-ready): the API answers it, the page and the CSV
files are views of the same rows, so the three always show the same numbers.

Rates carry their counts (`approved` of `reviewed`, `failed` of `ended`) and are None when the count
below the line is 0 (the fraction is rounded to 4 decimals; the counts are exact); amounts are exact
decimal text (USD); seconds are as computed (the page rounds them to a tenth, the CSV to a millisecond).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal

from ..models import CurationState, GalleryExample, Job, JobItem, SpendEntry
from ..spend import ZERO, as_text
from . import queries
from .period import Period

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


def model_rows(period: Period, registry: Sequence[tuple[str, str]]) -> list[dict]:
    examples = queries.examples_by(GalleryExample.model_id, period, distinct_presets=True)
    items = queries.items_by(JobItem.model_id, period)
    genders = dict(registry)
    return [
        {"modelId": model_id, "gender": genders.get(model_id), "presets": examples.get(model_id, {}).get("presets", 0)}
        | quality(examples.get(model_id, {}), items.get(model_id, (0, 0)))
        for model_id in ordered(genders, examples, items)
    ]


def provider_rows(period: Period, providers: Sequence[str]) -> list[dict]:
    examples = queries.examples_by(GalleryExample.provider, period)
    items = queries.items_by(Job.provider, period)
    durations = queries.durations_by_provider(period)
    spend = queries.spend_by(SpendEntry.provider, period)
    rows = []
    for provider in ordered(providers, examples, items, durations, spend):
        timed, median, p95 = durations.get(provider, (0, None, None))
        rows.append(
            {"provider": provider}
            | quality(examples.get(provider, {}), items.get(provider, (0, 0)))
            | {
                "timed": timed,
                "medianSeconds": median,
                "p95Seconds": p95,
                "spendUsd": as_text(spend.get(provider, ZERO)),
            }
        )
    return rows


def preset_rows(period: Period, registry: Sequence[tuple[str, str]]) -> list[dict]:
    examples = queries.examples_by(GalleryExample.preset_id, period)
    spend = queries.spend_by(SpendEntry.preset_id, period)
    used = queries.models_used([model_id for model_id, _ in registry])
    pool = len(registry)
    rows = []
    for preset_id, name, provider in queries.presets():
        states = examples.get(preset_id, {})
        rows.append(
            {
                "presetId": preset_id,
                "name": name,
                "provider": provider,
                "modelsUsed": used.get(preset_id, 0),
                "poolSize": pool,
                "coverage": rate(used.get(preset_id, 0), pool),
                "examples": sum(states.get(s, 0) for s in CurationState),
            }
            | {str(state): states.get(state, 0) for state in CurationState}
            | {"spendUsd": as_text(spend.get(preset_id, ZERO))}
        )
    return rows


def iso_weeks(period: Period) -> list[tuple[str, date, date]]:
    """(label "2026-W35", first day in the range, last day in the range) of each ISO week the range touches."""
    weeks = []
    monday = period.first - timedelta(days=period.first.weekday())
    while monday <= period.last:
        year, week, _ = monday.isocalendar()
        weeks.append((f"{year}-W{week:02d}", max(monday, period.first), min(monday + timedelta(days=6), period.last)))
        monday += timedelta(days=7)
    return weeks


def week_rows(period: Period) -> list[dict]:
    examples = queries.examples_by_day(period)
    spend = queries.spend_by_day(period)
    rows = []
    for label, first, last in iso_weeks(period):
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        total: Decimal = sum((spend.get(d, ZERO) for d in days), ZERO)
        rows.append(
            {
                "week": label,
                "from": first.isoformat(),
                "to": last.isoformat(),
                "days": len(days),
                "examples": sum(examples.get(d, 0) for d in days),
                "spendUsd": as_text(total),
            }
        )
    return rows


def build_report(period: Period, registry: Sequence[tuple[str, str]], providers: Sequence[str]) -> dict:
    """The whole report for `period`; `registry`: the reference models as (id, gender), in their order;
    `providers`: the provider names offered, in their order."""
    models = model_rows(period, registry)
    provider_table = provider_rows(period, providers)
    weeks = week_rows(period)
    return {
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
        "days": period.days,
        "registrySize": len(registry),
        "totals": {
            "examples": sum(w["examples"] for w in weeks),
            "spendUsd": as_text(sum((Decimal(w["spendUsd"]) for w in weeks), ZERO)),
        },
        "providers": provider_table,
        "models": models,
        "presets": preset_rows(period, registry),
        "weeks": weeks,
    }
