"""Bar charts drawn on the server as SVG geometry: no chart library in the browser, nothing for the CSP
to allow. This module computes where things go (in a fixed viewBox) and writes the bars and dots, the only
elements there are many of (200 on the presets chart); `_charts.html` writes the rest of the SVG, and the
page puts each chart's data table right after it, so the numbers never depend on the picture."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 72, 20, 56  # room for the axes' ticks and labels
MAX_X_LABELS = 16  # more bars than this: no label under each (each bar's tooltip and the table name it)


@dataclass(frozen=True)
class Scale:
    """A y axis from 0 to `top`, with how its ticks read ("50 %", "$1.20", "1,000")."""

    top: float
    fmt: Callable[[float], str]
    label: str
    step: float = 0.0  # between two ticks; 0: a quarter of `top`

    def y(self, value: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - min(value, self.top) / self.top)

    def ticks(self) -> list[tuple[float, str]]:
        step = self.step or self.top / 4
        return [(self.y(step * k), self.fmt(step * k)) for k in range(round(self.top / step) + 1)]


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # the class that colours it (admin.css)
    values: Sequence[float | None]  # None: nothing to draw (e.g. a rate with nothing reviewed)
    texts: Sequence[str]  # each value as the table writes it, for the tooltip


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    width: float
    height: float
    css: str
    tip: str


@dataclass
class Chart:
    key: str
    title: str
    description: str
    x_label: str
    scale: Scale
    marks: list[Mark] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css, name)
    line: str = ""  # the points of a line series ("x,y x,y …"), drawn over the bars
    line_dots: list[Mark] = field(default_factory=list)
    right: Scale | None = None  # the line's own axis, on the right
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_right: int = WIDTH - RIGHT
    plot_bottom: int = HEIGHT - BOTTOM
    reference: tuple[float, str] | None = None  # a marked level across the plot (y, its label), e.g. a median

    def bars_svg(self) -> Markup:
        """One `<rect>` a bar, its value in its `<title>` (the tooltip)."""
        return Markup(
            "".join(
                f'<rect class="{m.css}" x="{m.x:.1f}" y="{m.y:.1f}" width="{m.width:.2f}" height="{m.height:.1f}">'
                f"<title>{escape(m.tip)}</title></rect>"
                for m in self.marks
            )
        )

    def dots_svg(self) -> Markup:
        """One `<circle>` a point of the line, its value in its `<title>`."""
        return Markup(
            "".join(
                f'<circle class="dot {d.css}" cx="{d.x:.1f}" cy="{d.y:.1f}" r="3.5">'
                f"<title>{escape(d.tip)}</title></circle>"
                for d in self.line_dots
            )
        )


def nice_step(value: float, most: int = 5) -> float:
    """The smallest round step (1, 2 or 5 × 10^k) that reaches `value` in at most `most` steps, so the ticks
    read 0/5/10/15/20/25 rather than 0/6/12/19/25."""
    if value <= 0:
        return 0.25
    power = 10 ** math.floor(math.log10(value / most))
    return next(m * power for m in (1, 2, 5, 10) if m * power * most >= value - 1e-12)


def nice_top(value: float, step: float | None = None) -> float:
    """`value` rounded up to a whole number of round steps (1 for nothing to show)."""
    if value <= 0:
        return 1.0
    step = step or nice_step(value)
    return math.ceil(value / step - 1e-9) * step


def money_scale(values: Sequence[float], fmt: Callable[[float], str], label: str) -> Scale:
    step = nice_step(max(values or [0]))
    return Scale(nice_top(max(values or [0]), step), fmt, label, step)


def percent_scale() -> Scale:
    return Scale(1.0, lambda v: f"{v * 100:.0f} %", "percent")


def count_scale(values: Sequence[float | None], label: str) -> Scale:
    """Whole-number ticks: a count is never 2.5."""
    highest = max([v for v in values if v is not None] or [0])
    step = max(1.0, nice_step(highest))
    return Scale(nice_top(highest, step) if highest else 1.0, lambda v: f"{v:,.0f}", label, step)


def bar_chart(
    key: str,
    title: str,
    description: str,
    x_label: str,
    categories: Sequence[str],
    series: Sequence[Series],
    scale: Scale,
) -> Chart:
    """Grouped vertical bars: one group per category, one bar per series in each group."""
    chart = Chart(key, title, description, x_label, scale, legend=[(s.css, s.name) for s in series])
    slot = (chart.plot_right - chart.left) / max(1, len(categories))
    bar = slot * 0.8 / max(1, len(series))
    for i, category in enumerate(categories):
        for j, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            y = scale.y(value)
            x = chart.left + slot * i + slot * 0.1 + bar * j
            chart.marks.append(Mark(x, y, bar, chart.plot_bottom - y, s.css, f"{category}: {s.name} {s.texts[i]}"))
    if len(categories) <= MAX_X_LABELS:
        chart.x_labels = [(chart.left + slot * (i + 0.5), c) for i, c in enumerate(categories)]
    return chart


def add_line(chart: Chart, categories: Sequence[str], series: Series, scale: Scale) -> Chart:
    """A line over the bars (e.g. spend over examples), on its own axis at the right."""
    slot = (chart.plot_right - chart.left) / max(1, len(categories))
    points = [
        (chart.left + slot * (i + 0.5), scale.y(v), f"{c}: {series.name} {t}")
        for i, (c, v, t) in enumerate(zip(categories, series.values, series.texts, strict=True))
        if v is not None
    ]
    chart.line = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
    chart.line_dots = [Mark(x, y, 0, 0, series.css, tip) for x, y, tip in points]
    chart.right = scale
    chart.legend.append((series.css, series.name))
    return chart
