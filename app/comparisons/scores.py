"""Scores of a comparison's variants from its blind votes: wins, losses, ties (both good and both bad; "both bad"
is also counted on its own) and an Elo rating (start 1500, K = 32) applied in the order the votes were cast."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.models import VoteVerdict

START, K = 1500.0, 32.0
LEFT_SCORE = {VoteVerdict.LEFT: 1.0, VoteVerdict.RIGHT: 0.0, VoteVerdict.BOTH_GOOD: 0.5, VoteVerdict.BOTH_BAD: 0.5}


@dataclass
class Score:
    variant_id: str
    wins: int = 0
    losses: int = 0
    ties: int = 0
    both_bad: int = 0
    elo: float = START

    @property
    def votes(self) -> int:
        return self.wins + self.losses + self.ties

    def as_json(self) -> dict:
        return {
            "variantId": self.variant_id,
            "wins": self.wins,
            "losses": self.losses,
            "ties": self.ties,
            "bothBad": self.both_bad,
            "votes": self.votes,
            "elo": round(self.elo, 2),
        }


@dataclass(frozen=True)
class Judged:
    """One vote, as the variants of its two cells: left, right and the verdict."""

    left: str
    right: str
    verdict: str


def expected(rating: float, other: float) -> float:
    return 1.0 / (1.0 + 10 ** ((other - rating) / 400.0))


def tally(variant_ids: Iterable[str], votes: Iterable[Judged]) -> dict[str, Score]:
    """Each variant's score after `votes`, in the order given (the order they were cast)."""
    scores = {v: Score(v) for v in variant_ids}
    for vote in votes:
        left, right = scores[vote.left], scores[vote.right]
        result = LEFT_SCORE[VoteVerdict(vote.verdict)]
        if result == 1.0:
            left.wins, right.losses = left.wins + 1, right.losses + 1
        elif result == 0.0:
            left.losses, right.wins = left.losses + 1, right.wins + 1
        else:
            left.ties, right.ties = left.ties + 1, right.ties + 1
        if vote.verdict == VoteVerdict.BOTH_BAD:
            left.both_bad, right.both_bad = left.both_bad + 1, right.both_bad + 1
        change = K * (result - expected(left.elo, right.elo))
        left.elo, right.elo = left.elo + change, right.elo - change
    return scores


def winner(scores: dict[str, Score]) -> str | None:
    """The variant with the best rating once votes exist (None before, or when the best two are level)."""
    ranked = sorted(scores.values(), key=lambda s: s.elo, reverse=True)
    if not ranked or ranked[0].votes == 0 or (len(ranked) > 1 and ranked[0].elo == ranked[1].elo):
        return None
    return ranked[0].variant_id
