"""How a comparison stands: its status, its grid (cells by reference model and variant, each with its time to
result and cost), each column's totals, its scores, and the comparisons of a preset. Read from its rows: the
cells, their job items and the ledger's entries tagged to it."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select

from app.comparisons.scores import Judged, Score, tally, winner
from app.core.database import db
from app.jobs.submit import MODELS_PER_JOB
from app.models import (
    JOB_LIVE,
    Comparison,
    ComparisonCell,
    ComparisonVariant,
    ComparisonVote,
    ItemState,
    Job,
    JobItem,
    JobStatus,
    SpendEntry,
    iso,
)
from app.provider_rows import display_name
from app.spend.ledger import ZERO, as_text, usd
from app.storage.base import Storage


@dataclass
class CellView:
    cell: ComparisonCell
    state: str  # the item's: pending, processing, succeeded, failed, canceled
    error: str | None
    cost: Decimal | None  # None while nothing is recorded

    @property
    def has_image(self) -> bool:
        return self.cell.image_path is not None and self.state == ItemState.SUCCEEDED


@dataclass
class Totals:
    """A column's figures: success rate, median and p95 time to result, cost per image, a 20-model job's cost.
    A canceled cell is neither a success nor a failure: `ended` counts the cells that ran to their end."""

    ended: int
    succeeded: int
    median_seconds: float | None
    p95_seconds: float | None
    cost: Decimal
    cost_per_image: Decimal | None
    cost_of_job: Decimal | None  # what MODELS_PER_JOB items would cost at this column's cost per item

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.ended if self.ended else None

    def as_json(self) -> dict:
        money = {"costUsd": self.cost, "costPerImageUsd": self.cost_per_image, "costOf20ModelJobUsd": self.cost_of_job}
        return {
            "ended": self.ended,
            "succeeded": self.succeeded,
            "successRate": None if self.success_rate is None else round(self.success_rate, 4),
            "medianSeconds": self.median_seconds,
            "p95Seconds": self.p95_seconds,
            **{k: None if v is None else as_text(v) for k, v in money.items()},
        }


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (p95 of 4 values is the largest): no interpolation between so few."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 2)


def totals(cells: list[CellView]) -> Totals:
    """The column's figures; a 20-model job is priced by what its cells that ran to their end cost on average."""
    ended = [c for c in cells if c.state in (ItemState.SUCCEEDED, ItemState.FAILED)]
    ok = [c for c in ended if c.state == ItemState.SUCCEEDED]
    seconds = [c.cell.prediction_seconds for c in ok if c.cell.prediction_seconds is not None]
    cost = sum((c.cost or ZERO for c in cells), ZERO)
    per_item = sum((c.cost or ZERO for c in ended), ZERO) / len(ended) if ended else None
    return Totals(
        ended=len(ended),
        succeeded=len(ok),
        median_seconds=round(statistics.median(seconds), 2) if seconds else None,
        p95_seconds=percentile(seconds, 0.95),
        cost=cost,
        cost_per_image=(cost / len(ok)).quantize(Decimal("0.000001")) if ok else None,
        cost_of_job=(per_item * MODELS_PER_JOB).quantize(Decimal("0.000001")) if per_item is not None else None,
    )


@dataclass
class Grid:
    """A comparison read whole: what the page, the API and the CLI show."""

    comparison: Comparison
    variants: list[ComparisonVariant]
    jobs: dict[str, Job]  # by variant id
    cells: list[CellView]
    scores: dict[str, Score]
    voters: dict[str, int]

    @property
    def status(self) -> str:
        live = [j for j in self.jobs.values() if j.status in JOB_LIVE]
        if live:
            if self.comparison.canceled_at:
                return "canceling"
            return "queued" if all(j.status == JobStatus.QUEUED for j in live) else "running"
        return "canceled" if self.comparison.canceled_at else "finished"

    @property
    def is_live(self) -> bool:
        return self.status in ("queued", "running", "canceling")

    @property
    def model_ids(self) -> list[str]:
        return list(dict.fromkeys(c.cell.model_id for c in self.cells))

    @property
    def variant_of(self) -> dict[str, str]:
        """Which variant made each cell, by cell id."""
        return {c.cell.id: c.cell.variant_id for c in self.cells}

    def column(self, variant_id: str) -> list[CellView]:
        return [c for c in self.cells if c.cell.variant_id == variant_id]

    def cell(self, variant_id: str, model_id: str) -> CellView | None:
        return next((c for c in self.cells if c.cell.variant_id == variant_id and c.cell.model_id == model_id), None)

    @property
    def cost(self) -> Decimal:
        return sum((c.cost or ZERO for c in self.cells), ZERO)

    @property
    def winner(self) -> ComparisonVariant | None:
        best = winner(self.scores)
        return next((v for v in self.variants if v.id == best), None)

    def variant(self, variant_id: str | None) -> ComparisonVariant | None:
        return next((v for v in self.variants if v.id == variant_id), None)


def read_grid(comparison: Comparison) -> Grid:
    """The comparison's rows in five queries: variants, their jobs, cells with their items, costs, votes."""
    variants = list(comparison.variants)
    found = db.session.scalars(select(Job).where(Job.comparison_id == comparison.id))
    by_id = {job.id: job for job in found}
    jobs = {v.id: by_id[v.job_id] for v in variants if v.job_id in by_id}
    rows = db.session.execute(
        select(ComparisonCell, JobItem.state, JobItem.error)
        .outerjoin(JobItem, JobItem.id == ComparisonCell.item_id)
        .where(ComparisonCell.comparison_id == comparison.id)
    ).all()
    costs = dict(
        db.session.execute(
            select(SpendEntry.item_id, func.sum(SpendEntry.amount))
            .where(SpendEntry.comparison_id == comparison.id)
            .group_by(SpendEntry.item_id)
        ).all()
    )
    order = {v.id: v.position for v in variants}
    cells = [
        CellView(cell, state or ItemState.CANCELED, error, usd(costs[cell.item_id]) if cell.item_id in costs else None)
        for cell, state, error in rows
    ]
    cells.sort(key=lambda c: (c.cell.gender != "female", c.cell.model_id, order.get(c.cell.variant_id, 0)))
    grid = Grid(comparison, variants, jobs, cells, {}, {})
    grid.scores, grid.voters = tally_votes(comparison.id, grid.variant_of, [v.id for v in variants])
    return grid


def tally_votes(
    comparison_id: str, variant_of: dict[str, str], variant_ids: list[str]
) -> tuple[dict[str, Score], dict[str, int]]:
    """The variants' scores (keyed in the order of `variant_ids`) and how often each voter voted, from the votes in
    the order they were cast: one query, given which variant made each cell (`variant_of`)."""
    votes = list(
        db.session.scalars(
            select(ComparisonVote).where(ComparisonVote.comparison_id == comparison_id).order_by(ComparisonVote.id)
        )
    )
    judged = [Judged(variant_of[v.left_cell_id], variant_of[v.right_cell_id], v.verdict) for v in votes]
    voters: dict[str, int] = {}
    for vote in votes:
        voters[vote.voter] = voters.get(vote.voter, 0) + 1
    return tally(variant_ids, judged), voters


def variant_json(grid: Grid, variant: ComparisonVariant) -> dict:
    job = grid.jobs.get(variant.id)
    return {
        "id": variant.id,
        "label": variant.label,
        "provider": variant.provider,
        "providerName": display_name(variant.provider),
        "settings": variant.settings,
        "prompt": variant.prompt,
        "isCurrent": variant.is_current,
        "jobId": variant.job_id,
        "status": job.status if job else None,
        "totals": totals(grid.column(variant.id)).as_json(),
    }


def cell_json(view: CellView, storage: Storage) -> dict:
    cell = view.cell
    shown = view.has_image and cell.image_path
    return {
        "id": cell.id,
        "variantId": cell.variant_id,
        "modelId": cell.model_id,
        "gender": cell.gender,
        "referenceUrl": cell.reference_url,
        "state": view.state,
        "error": view.error,
        "imageUrl": storage.url(cell.image_path) if shown and cell.image_path else None,
        "thumbUrl": storage.url(cell.thumb_path) if shown and cell.thumb_path else None,
        "mediumUrl": storage.url(cell.medium_path) if shown and cell.medium_path else None,
        "seconds": cell.prediction_seconds,
        "costUsd": None if view.cost is None else as_text(view.cost),
        "predictionId": cell.prediction_id,
        "offline": cell.offline,
    }


def comparison_json(grid: Grid, storage: Storage) -> dict:
    comparison = grid.comparison
    adopted = grid.variant(comparison.adopted_variant_id)
    return {
        "id": comparison.id,
        "presetId": comparison.preset_id,
        "status": grid.status,
        "createdAt": iso(comparison.created_at),
        "createdBy": comparison.created_by,
        "canceledAt": iso(comparison.canceled_at),
        "costUsd": as_text(grid.cost),
        "modelIds": grid.model_ids,
        "variants": [variant_json(grid, v) for v in grid.variants],
        "cells": [cell_json(c, storage) for c in grid.cells],
        "scores": [grid.scores[v.id].as_json() for v in grid.variants],
        "voters": [{"voter": who, "votes": n} for who, n in sorted(grid.voters.items())],
        "winnerVariantId": grid.winner.id if grid.winner else None,
        "adopted": None
        if adopted is None
        else {"variantId": adopted.id, "at": iso(comparison.adopted_at), "by": comparison.adopted_by},
    }


def get_comparison(comparison_id: str) -> Comparison | None:
    return db.session.get(Comparison, comparison_id)


def comparisons_of(preset_id: str) -> list[Grid]:
    """A preset's comparisons, newest first, each read whole (a preset has a handful)."""
    found = db.session.scalars(
        select(Comparison).where(Comparison.preset_id == preset_id).order_by(Comparison.created_at.desc())
    )
    return [read_grid(c) for c in found]
