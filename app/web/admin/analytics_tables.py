"""The analytics report's four tables, one definition each, written three ways from the same rows: as page
cells, as CSV cells and (by the API) as the JSON itself; so the page, the CSV files and the API agree.

Page cells are for reading ("66.7 %", "12.3 s", "$0.78", "1,234", "—"); CSV cells are for spreadsheets:
counts as whole numbers, rates as fractions with 4 decimals (as the API), seconds to the millisecond, USD
exact, empty for none.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

from app.provider_rows import display_name
from app.spend.ledger import money

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these as formulas


def page_count(value: Any) -> str:
    return f"{value:,}"


def page_rate(part: int, whole: int) -> str:
    """From the counts, not the rounded fraction, so the percentage is rounded once."""
    return "—" if not whole else f"{part * 100 / whole:.1f} %"


def page_seconds(value: Any) -> str:
    return "—" if value is None else f"{value:.1f} s"


def page_usd(value: Any) -> str:
    return money(Decimal(value))


def page_text(value: Any) -> str:
    return "—" if value is None else str(value)


PAGE_FORMAT: dict[str, Callable[[object], str]] = {
    "count": page_count,
    "seconds": page_seconds,
    "usd": page_usd,
    "text": page_text,
}


@dataclass(frozen=True)
class Column:
    key: str  # the JSON row's key
    header: str
    kind: str = "count"  # count | rate | seconds | usd | text
    on_page: bool = True  # ids are in the CSV; the page links the name instead
    parts: tuple[str, str] = ("", "")  # a rate's counts: (part, whole)
    short: str = ""  # the page's header, when the CSV's is too long for a column of numbers

    @property
    def numeric(self) -> bool:
        return self.kind != "text"

    @property
    def page_header(self) -> str:
        return self.short or self.header


@dataclass(frozen=True)
class Table:
    key: str  # the report's list and the CSV's name
    title: str
    columns: tuple[Column, ...]

    @property
    def page_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.on_page)


def quality_columns() -> tuple[Column, ...]:
    return (
        Column("examples", "Examples"),
        Column("reviewed", "Reviewed"),
        Column("approved", "Approved + featured", short="Approved"),
        Column("approvalRate", "Approval rate", "rate", parts=("approved", "reviewed"), short="Approval"),
        Column("ended", "Ended items", short="Ended"),
        Column("failed", "Failed items", short="Failed"),
        Column("failureRate", "Failure rate", "rate", parts=("failed", "ended"), short="Failure"),
    )


# the part of a row's spend that went on comparisons (the rest on galleries): beside "Spend", which holds both
COMPARISONS = Column("comparisonsUsd", "Of which on comparisons", "usd", short="On comparisons")

TABLES = {
    "providers": Table(
        "providers",
        "Providers",
        (Column("provider", "Provider", "text"), *quality_columns())
        + (
            Column("timed", "Timed results", short="Timed"),
            Column("medianSeconds", "Median time to result", "seconds", short="Median time"),
            Column("p95Seconds", "p95 time to result", "seconds", short="p95 time"),
            Column("spendUsd", "Spend", "usd"),
            COMPARISONS,
        ),
    ),
    "models": Table(
        "models",
        "Reference models",
        (Column("modelId", "Model", "text"), Column("gender", "Gender", "text"), Column("presets", "Presets"))
        + quality_columns(),
    ),
    "presets": Table(
        "presets",
        "Presets",
        (
            Column("presetId", "Preset id", "text", on_page=False),
            Column("name", "Preset", "text"),
            Column("provider", "Provider", "text"),
            Column("modelsUsed", "Models used"),
            Column("poolSize", "Pool"),
            Column("coverage", "Pool coverage", "rate", parts=("modelsUsed", "poolSize"), short="Coverage"),
            Column("examples", "Examples"),
            Column("unreviewed", "Unreviewed", short="Not reviewed"),
            Column("approved", "Approved"),
            Column("featured", "Featured"),
            Column("rejected", "Rejected"),
            Column("spendUsd", "Spend", "usd"),
            COMPARISONS,
        ),
    ),
    "weeks": Table(
        "weeks",
        "Weeks",
        (
            Column("week", "ISO week", "text"),
            Column("from", "From", "text"),
            Column("to", "To", "text"),
            Column("days", "Days in range", short="Days"),
            Column("examples", "Examples"),
            Column("spendUsd", "Spend", "usd"),
            COMPARISONS,
        ),
    ),
}


def page_cell(column: Column, row: dict) -> str:
    if column.key == "provider":  # the enum value stays in the CSV and the API
        return display_name(str(row["provider"]))
    if column.kind == "rate":
        part, whole = column.parts
        return page_rate(row[part], row[whole])
    return PAGE_FORMAT[column.kind](row[column.key])


def page_rows(table: Table, rows: Sequence[dict], link: Callable[[dict], str] | None = None) -> list[Markup]:
    """Each row as the table's `<tr>`: the first cell a row header (a link when `link` gives one), each cell
    tagged with its column's key, numbers right-aligned. Written here rather than by a loop in the template:
    a 200-row table is 2,400 cells, each a few template expressions."""
    columns = table.page_columns
    head = Markup('<th scope="row" data-key="{}">').format(columns[0].key)
    openers = [
        Markup('<td data-key="{}"{}>').format(c.key, Markup(' class="num"') if c.numeric else "") for c in columns
    ]
    # a number's cell is written by the formats above (digits, ",", ".", "%", "$", "s", "—"): nothing to escape
    cells = [(opener, c, c.numeric) for opener, c in zip(openers, columns, strict=True)][1:]
    written = []
    for row in rows:
        first = escape(page_cell(columns[0], row))
        if link is not None:
            first = Markup('<a href="{}">{}</a>').format(link(row), first)
        tds = "".join(
            f"{opener}{page_cell(c, row) if number else escape(page_cell(c, row))}</td>" for opener, c, number in cells
        )
        written.append(Markup(f"<tr>{head}{first}</th>{tds}</tr>"))
    return written


def csv_cell(column: Column, value: Any) -> str:
    """A CSV cell: empty for none, rates as 4-decimal fractions, and any text a spreadsheet would run as a
    formula (starting with = + - @, a tab or a carriage return) prefixed with an apostrophe."""
    if value is None:
        return ""
    if column.kind == "rate":
        return f"{value:.4f}"
    if column.kind == "seconds":
        return f"{value:.3f}"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_text(table: Table, rows: Sequence[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in table.columns])
    writer.writerows([csv_cell(c, row[c.key]) for c in table.columns] for row in rows)
    return out.getvalue()
