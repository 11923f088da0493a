"""Issue 33: the analytics charts read as a person expects — ticks at round numbers, and the per-model chart
answers "which models get approved" (reviewed models only, best first, the median marked)."""

from __future__ import annotations

import pytest

from app.web.admin.analytics_charts import count_scale, money_scale
from app.web.admin.views_analytics import model_chart

pytestmark = pytest.mark.fast


def labels(scale) -> list[str]:
    return [label for _, label in scale.ticks()]


def test_count_ticks_are_round_numbers():
    assert labels(count_scale([25, 3], "examples")) == ["0", "5", "10", "15", "20", "25"]
    assert labels(count_scale([23], "examples")) == ["0", "5", "10", "15", "20", "25"]
    assert labels(count_scale([3], "examples")) == ["0", "1", "2", "3"]
    assert labels(count_scale([1234], "examples")) == ["0", "500", "1,000", "1,500"]
    assert labels(count_scale([0], "examples")) == ["0", "1"]


def test_money_ticks_are_round_numbers():
    scale = money_scale([0.78, 0.1], lambda v: f"${v:.2f}", "USD")
    assert labels(scale) == ["$0.00", "$0.20", "$0.40", "$0.60", "$0.80"]


def model(model_id: str, approved: int, reviewed: int) -> dict:
    rate = approved / reviewed if reviewed else None
    return {"modelId": model_id, "approved": approved, "reviewed": reviewed, "approvalRate": rate}


def test_the_model_chart_sorts_reviewed_models_and_marks_their_median():
    chart = model_chart([model("a", 1, 4), model("b", 0, 0), model("c", 3, 4), model("d", 2, 4)])
    assert [m.tip.split(":")[0] for m in chart.marks] == ["c", "d", "a"]
    assert chart.reference is not None and chart.reference[1] == "median 50 %"
    assert chart.reference[0] == pytest.approx(chart.scale.y(0.5))
    assert "1 with nothing reviewed left out" in chart.x_label


def test_a_range_with_nothing_reviewed_draws_no_median():
    chart = model_chart([model("a", 0, 0)])
    assert chart.marks == [] and chart.reference is None
