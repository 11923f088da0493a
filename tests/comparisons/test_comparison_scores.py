"""A comparison's scores and column figures, computed from plain values (no service needed)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from app.comparisons.reading import CellView, percentile, totals
from app.comparisons.scores import Judged, tally, winner

pytestmark = pytest.mark.fast


def test_a_win_moves_sixteen_points_between_two_fresh_variants():
    scores = tally(["a", "b"], [Judged("a", "b", "left")])
    assert (scores["a"].elo, scores["b"].elo) == (1516.0, 1484.0)
    assert (scores["a"].wins, scores["b"].losses, scores["a"].votes) == (1, 1, 1)


def test_both_good_and_both_bad_are_ties_and_both_bad_is_also_counted_alone():
    scores = tally(["a", "b"], [Judged("a", "b", "both_good"), Judged("b", "a", "both_bad")])
    assert (scores["a"].ties, scores["a"].both_bad, scores["a"].wins, scores["a"].losses) == (2, 1, 0, 0)
    assert scores["a"].elo == scores["b"].elo == 1500.0  # a draw between equals changes nothing


def test_the_order_of_the_votes_changes_the_ratings():
    first = tally(["a", "b", "c"], [Judged("a", "b", "left"), Judged("c", "a", "left")])
    second = tally(["a", "b", "c"], [Judged("c", "a", "left"), Judged("a", "b", "left")])
    assert first["a"].elo != second["a"].elo
    assert sum(s.elo for s in first.values()) == pytest.approx(4500.0)  # points move, none are made


def test_there_is_no_winner_before_a_vote_or_between_level_variants():
    assert winner(tally(["a", "b"], [])) is None
    assert winner(tally(["a", "b"], [Judged("a", "b", "both_good")])) is None
    assert winner(tally(["a", "b"], [Judged("a", "b", "right")])) == "b"


def test_p95_of_a_few_values_is_the_nearest_rank_and_none_of_nothing():
    assert percentile([3.0, 1.0, 2.0, 10.0], 0.95) == 10.0
    assert percentile([float(n) for n in range(1, 101)], 0.95) == 95.0
    assert percentile([], 0.95) is None


def cell(state, seconds=None, cost=None):
    return CellView(SimpleNamespace(prediction_seconds=seconds), state, None, None if cost is None else Decimal(cost))


def test_a_column_counts_the_cells_that_ran_to_their_end_and_prices_a_twenty_model_job_from_them():
    """A canceled cell is neither a success nor a failure (its cost still counts in the column's)."""
    column = [
        cell("succeeded", 10.0, "0.04"),
        cell("succeeded", 20.0, "0.04"),
        cell("failed", None, "0"),
        cell("canceled", None, "0.01"),
        cell("processing"),
    ]
    figures = totals(column)
    assert (figures.ended, figures.succeeded, figures.success_rate) == (3, 2, pytest.approx(2 / 3))
    assert (figures.median_seconds, figures.p95_seconds) == (15.0, 20.0)
    assert figures.cost == Decimal("0.09") and figures.cost_per_image == Decimal("0.045")
    assert figures.cost_of_job == (Decimal("0.08") / 3 * 20).quantize(Decimal("0.000001"))
