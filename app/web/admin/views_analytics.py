"""Analytics: which reference models, providers and presets give the best examples.

One page with a date range (a GET form), four tables each drawn first as an SVG chart, each table also a
CSV download; `GET /api/admin/analytics` answers the same report as JSON. No cache: the report is a fixed
number of grouped queries, fast enough to run on every request.
"""

from __future__ import annotations

import statistics

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.analytics import AnalyticsError, Period, period_of, report_for
from app.provider_rows import display_name
from app.spend.ledger import money
from app.web.admin.analytics_charts import (
    Chart,
    Series,
    add_line,
    bar_chart,
    count_scale,
    money_scale,
    percent_scale,
)
from app.web.admin.analytics_tables import TABLES, Column, csv_text, page_cell, page_rows
from app.web.context import services

bp = Blueprint("admin_analytics", __name__, url_prefix="/admin/analytics")


def rate_series(name: str, css: str, rows: list[dict], column: Column) -> Series:
    return Series(name, css, [r[column.key] for r in rows], [page_cell(column, r) for r in rows])


def column(table: str, key: str) -> Column:
    return next(c for c in TABLES[table].columns if c.key == key)


def week_chart(weeks: list[dict]) -> Chart:
    labels = [w["week"].split("-")[1] for w in weeks]
    counts = [w["examples"] for w in weeks]
    examples = Series("examples", "series-examples", counts, [f"{n:,}" for n in counts])
    chart = bar_chart(
        "weeks",
        "Examples and spend by ISO week",
        "Bars: examples stored each week (left axis). Line: spend recorded each week (right axis).",
        "ISO week",
        labels,
        [examples],
        count_scale(examples.values, "examples"),
    )
    spend = [float(w["spendUsd"]) for w in weeks]
    scale = money_scale(spend, lambda v: money(f"{v:.6f}"), "spend (USD)")
    return add_line(chart, labels, Series("spend", "series-spend", spend, [money(w["spendUsd"]) for w in weeks]), scale)


def model_chart(models: list[dict]) -> Chart:
    """Which reference models get approved: the reviewed models' approval rates, best first, with the
    median of those rates marked (a model far below it is worth a look). Models with nothing reviewed have
    no rate to draw; the axis label says how many were left out."""
    reviewed = sorted((m for m in models if m["reviewed"]), key=lambda m: (-m["approvalRate"], m["modelId"]))
    chart = bar_chart(
        "models",
        "Which reference models get approved",
        "Approval rate of each reference model with a reviewed example, best first; the dashed line is"
        " the median of those models.",
        f"{len(reviewed)} reviewed models, best first ({len(models) - len(reviewed)} with nothing reviewed left out)",
        [m["modelId"] for m in reviewed],
        [rate_series("approval rate", "series-approval", reviewed, column("models", "approvalRate"))],
        percent_scale(),
    )
    if reviewed:
        middle = statistics.median(m["approvalRate"] for m in reviewed)
        chart.reference = (chart.scale.y(middle), f"median {middle * 100:.0f} %")
        chart.legend.append(("series-median", f"median of the models: {middle * 100:.1f} %"))
    return chart


def charts(report: dict) -> dict:
    """One chart per table, drawn from the same rows the table shows."""
    providers, models, presets = report["providers"], report["models"], report["presets"]
    return {
        "providers": bar_chart(
            "providers",
            "Approval and failure rate by provider",
            "Approval rate: approved and featured of the reviewed examples. Failure rate: failed of the ended items.",
            "Provider",
            [display_name(p["provider"]) for p in providers],
            [
                rate_series("approval rate", "series-approval", providers, column("providers", "approvalRate")),
                rate_series("failure rate", "series-failure", providers, column("providers", "failureRate")),
            ],
            percent_scale(),
        ),
        "models": model_chart(models),
        "presets": bar_chart(
            "presets",
            "Pool coverage by preset",
            f"The share of the {report['registrySize']} reference models each preset has used, in the table's order.",
            f"{len(presets)} presets, in the table's order",
            [p["name"] for p in presets],
            [rate_series("pool coverage", "series-coverage", presets, column("presets", "coverage"))],
            percent_scale(),
        ),
        "weeks": week_chart(report["weeks"]),
    }


def preset_link(row: dict) -> str:
    return url_for("admin_presets.preset", preset_id=row["presetId"])


def period_form() -> dict:
    """What the range form shows back: the values as typed (escaped by the template)."""
    return {"from": request.args.get("from", "")[:40], "to": request.args.get("to", "")[:40]}


@bp.get("")
def analytics() -> ResponseReturnValue:
    try:
        period = period_of(request.args)
    except AnalyticsError as exc:
        return render_template("admin/analytics.html", error=exc.message, form=period_form(), report=None), 400
    return page(report_for(period, services().registry()))


def page(report: dict) -> str:
    """The page of a report: each table's chart, its rows and its CSV link."""
    bounds = {"from": report["from"], "to": report["to"]}
    return render_template(
        "admin/analytics.html",
        report=report,
        form=bounds,
        tables=TABLES,
        charts=charts(report),
        rows={
            key: page_rows(table, report[key], preset_link if key == "presets" else None)
            for key, table in TABLES.items()
        },
        csv_urls={key: url_for(".table_csv", name=key, **bounds) for key in TABLES},
        error=None,
    )


@bp.get("/<name>.csv")
def table_csv(name: str) -> ResponseReturnValue:
    """One table as CSV (`?from=&to=` as the page's), the same numbers; 404 for a table that does not exist."""
    table = TABLES.get(name)
    if table is None:
        raise AnalyticsError(f"No analytics table {name!r}: choose one of {', '.join(TABLES)}.", 404)
    period: Period = period_of(request.args)
    report = report_for(period, services().registry())
    filename = f"analytics-{name}-{report['from']}-to-{report['to']}.csv"
    return (
        csv_text(table, report[name]),
        200,
        {"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": f'attachment; filename="{filename}"'},
    )
