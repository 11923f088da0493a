"""The preset page's "Comparisons" section: each comparison of the preset in one line (date, variants, status,
winner, cost) and whether the preset runs what it adopted from one. Read in two queries (none more per
comparison): the comparisons with their variants, jobs and cost, then their votes; the status and the winner
come from the core's own `Grid` and `scores`, so the page and the grid never disagree."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.comparisons.reading import Grid
from app.comparisons.scores import Judged, tally
from app.core.database import db
from app.models import Comparison, ComparisonCell, ComparisonVariant, ComparisonVote, Job, Preset, SpendEntry
from app.spend.ledger import ZERO, usd

SHOWN = 20  # the newest comparisons of a preset listed on its page


@dataclass
class Summary:
    grid: Grid  # without cells: the status, the variants and the winner are all the list needs
    cost: Decimal

    @property
    def comparison(self) -> Comparison:
        return self.grid.comparison


def summaries_of(preset_id: str) -> list[Summary]:
    """The preset's newest comparisons, newest first (no query for the votes when it has none)."""
    newest = (
        select(Comparison.id)
        .where(Comparison.preset_id == preset_id)
        .order_by(Comparison.created_at.desc())
        .limit(SHOWN)
    )
    cost = (
        select(func.coalesce(func.sum(SpendEntry.amount), 0))
        .where(SpendEntry.comparison_id == Comparison.id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Comparison, ComparisonVariant, Job, cost)
        .join(ComparisonVariant, ComparisonVariant.comparison_id == Comparison.id)
        .outerjoin(Job, Job.id == ComparisonVariant.job_id)
        .where(Comparison.id.in_(newest))
        .order_by(Comparison.created_at.desc(), Comparison.id, ComparisonVariant.position)
    ).all()
    summaries: dict[str, Summary] = {}
    for comparison, variant, job, spent in rows:
        summary = summaries.get(comparison.id)
        if summary is None:
            grid = Grid(comparison, [], {}, [], {}, {})
            summary = summaries[comparison.id] = Summary(grid, usd(spent or ZERO))
        summary.grid.variants.append(variant)
        if job is not None:
            summary.grid.jobs[variant.id] = job
    judged = votes_of(list(summaries)) if summaries else {}
    for comparison_id, summary in summaries.items():
        summary.grid.scores = tally([v.id for v in summary.grid.variants], judged.get(comparison_id, []))
    return list(summaries.values())


def votes_of(comparison_ids: list[str]) -> dict[str, list[Judged]]:
    """Each comparison's votes as variant pairs, in the order they were cast (the Elo rating's order)."""
    left, right = aliased(ComparisonCell), aliased(ComparisonCell)
    rows = db.session.execute(
        select(ComparisonVote.comparison_id, left.variant_id, right.variant_id, ComparisonVote.verdict)
        .join(left, left.id == ComparisonVote.left_cell_id)
        .join(right, right.id == ComparisonVote.right_cell_id)
        .where(ComparisonVote.comparison_id.in_(comparison_ids))
        .order_by(ComparisonVote.id)
    ).all()
    found: dict[str, list[Judged]] = {}
    for comparison_id, left_variant, right_variant, verdict in rows:
        found.setdefault(comparison_id, []).append(Judged(left_variant, right_variant, verdict))
    return found


@dataclass(frozen=True)
class AdoptedFrom:
    comparison: Comparison
    variant: ComparisonVariant


def adopted_from(preset: Preset, summaries: list[Summary]) -> AdoptedFrom | None:
    """The latest adopted comparison among those listed, while the preset still runs exactly what it adopted
    (its provider, settings and prompt); None once the preset was changed since."""
    adopted = [s for s in summaries if s.comparison.adopted_variant_id and s.comparison.adopted_at]
    if not adopted:
        return None
    latest = max(adopted, key=lambda s: s.comparison.adopted_at or s.comparison.created_at)
    variant = latest.grid.variant(latest.comparison.adopted_variant_id)
    if variant is None or not runs(preset, variant):
        return None
    return AdoptedFrom(latest.comparison, variant)


def runs(preset: Preset, variant: ComparisonVariant) -> bool:
    def canonical(settings: dict | None) -> str:
        return json.dumps(settings or {}, sort_keys=True)

    return (preset.provider, canonical(preset.settings), preset.prompt) == (
        variant.provider,
        canonical(variant.settings),
        variant.prompt,
    )
