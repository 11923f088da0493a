"""Blind review: which pair to show next, and casting a vote on it. A pair is two cells made for the same reference
model by two variants, shown left and right at random; neither the page nor the vote names a variant until it is cast.
Votes are not in the activity log (the comparison shows who voted how often)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from sqlalchemy import select

from app.comparisons.reading import CellView, Grid
from app.core.database import db
from app.core.errors import AppError
from app.models import ComparisonCell, ComparisonVote, VoteVerdict

VERDICTS = tuple(v.value for v in VoteVerdict)


class VoteError(AppError):
    """A vote that cannot be counted as cast."""


@dataclass(frozen=True)
class Pair:
    left: CellView
    right: CellView


def next_pair(grid: Grid, rng: random.Random | None = None) -> Pair | None:
    """A pair of finished outputs for one model from two variants: one of the pairs judged least so far, sides at
    random. None while fewer than two variants have an output for the same model."""
    rng = rng or random.Random()
    judged: dict[frozenset[str], int] = {}
    for vote in db.session.scalars(select(ComparisonVote).where(ComparisonVote.comparison_id == grid.comparison.id)):
        key = frozenset((vote.left_cell_id, vote.right_cell_id))
        judged[key] = judged.get(key, 0) + 1
    candidates: list[tuple[CellView, CellView]] = []
    for model_id in grid.model_ids:
        shown = [c for c in grid.cells if c.cell.model_id == model_id and c.has_image]
        candidates.extend(combinations(shown, 2))
    if not candidates:
        return None
    fewest = min(judged.get(frozenset((a.cell.id, b.cell.id)), 0) for a, b in candidates)
    left, right = rng.choice(
        [(a, b) for a, b in candidates if judged.get(frozenset((a.cell.id, b.cell.id)), 0) == fewest]
    )
    return Pair(left, right) if rng.random() < 0.5 else Pair(right, left)


@dataclass(frozen=True)
class Ballot:
    left: str
    right: str
    verdict: str


def parse_ballot(body: Any) -> Ballot:
    """`{"left": cellId, "right": cellId, "verdict": "left" | "right" | "both_good" | "both_bad"}`."""
    if not isinstance(body, dict) or set(body) != {"left", "right", "verdict"}:
        raise VoteError('A vote is {"left": cellId, "right": cellId, "verdict": "left"}, with exactly these fields.')
    if not all(isinstance(body[k], str) and 0 < len(body[k]) <= 32 for k in ("left", "right")):
        raise VoteError("left and right must be the ids of two cells of this comparison.")
    if body["verdict"] not in VERDICTS:
        raise VoteError(f"verdict must be one of {', '.join(VERDICTS)}; got {body['verdict']!r}.")
    return Ballot(body["left"], body["right"], body["verdict"])


def cast_vote(grid: Grid, ballot: Ballot, voter: str | None) -> ComparisonVote:
    """Count the vote (committed) once its cells are two finished outputs of this comparison for the same model
    from different variants."""
    cells = {c.cell.id: c for c in grid.cells}
    left, right = cells.get(ballot.left), cells.get(ballot.right)
    if left is None or right is None:
        missing = ballot.left if left is None else ballot.right
        raise VoteError(f"No cell {missing!r} in this comparison.", 404)
    problem = pair_problem(left.cell, right.cell)
    if problem is None and not (left.has_image and right.has_image):
        problem = "both cells must have an output (a failed or unfinished cell cannot be judged)"
    if problem:
        raise VoteError(f"This pair cannot be judged: {problem}.")
    vote = ComparisonVote(
        comparison_id=grid.comparison.id,
        left_cell_id=left.cell.id,
        right_cell_id=right.cell.id,
        verdict=ballot.verdict,
        voter=(voter or "unknown")[:200],
    )
    db.session.add(vote)
    db.session.commit()
    return vote


def pair_problem(left: ComparisonCell, right: ComparisonCell) -> str | None:
    if left.model_id != right.model_id:
        return "the two cells were made for different reference models"
    if left.variant_id == right.variant_id:
        return "the two cells come from the same variant"
    return None
