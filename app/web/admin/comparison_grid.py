"""What the comparison pages show, from the core's `Grid`: the grid's rows (a reference model with one cell per
variant) and columns (a variant with its provider, totals and score), and a blind pair with nothing in it that
names a variant (its images are the cells' own storage URLs, opaque by design)."""

from __future__ import annotations

from dataclasses import dataclass

from app import provider_rows
from app.comparisons.reading import CellView, Grid, Totals, totals
from app.comparisons.scores import Score
from app.comparisons.votes import Pair
from app.models import ComparisonCell, ComparisonVariant
from app.providers.catalog import Provider
from app.web.admin.common import reference_thumb, services

PROMPT_SHOWN = 70  # characters of a variant's prompt in the column's head (the whole prompt in its <details>)


@dataclass
class Column:
    variant: ComparisonVariant
    provider: Provider | None  # None: the provider row is gone (the variant keeps its key)
    totals: Totals
    score: Score
    status: str | None  # its job's
    cells: list[CellView]

    @property
    def name(self) -> str:
        return provider_rows.display_name(self.variant.provider)

    @property
    def outputs(self) -> list[CellView]:
        return [c for c in self.cells if c.has_image]


@dataclass
class Row:
    model_id: str
    gender: str
    reference_url: str | None
    cells: list[CellView | None]  # one per column, in the columns' order


def columns_of(grid: Grid) -> list[Column]:
    found = []
    for variant in grid.variants:
        cells = grid.column(variant.id)
        job = grid.jobs.get(variant.id)
        found.append(
            Column(
                variant=variant,
                provider=provider_rows.find(variant.provider),
                totals=totals(cells),
                score=grid.scores[variant.id],
                status=job.status if job else None,
                cells=cells,
            )
        )
    return found


def rows_of(grid: Grid) -> list[Row]:
    rows = []
    for model_id in grid.model_ids:
        cells = [grid.cell(v.id, model_id) for v in grid.variants]
        gender = next((c.cell.gender for c in cells if c is not None), "")
        rows.append(Row(model_id, gender, reference_thumb(model_id), cells))
    return rows


def media_url(path: str | None) -> str | None:
    """A stored file's address on the pages (None for none)."""
    return services().storage.url(path) if path else None


def shown_url(cell: ComparisonCell) -> str | None:
    """The size a pair shows: the medium one when it was made, else the original."""
    return media_url(cell.medium_path or cell.image_path)


def no_pair_reason(grid: Grid) -> str:
    """Why no pair can be shown yet, in words a curator can act on."""
    if not any(c.has_image for c in grid.cells):
        if grid.is_live:
            return "No output is ready yet: the variants are still running. Come back in a moment."
        return "No variant made an output (every cell failed or was canceled), so there is nothing to judge."
    if grid.is_live:
        return (
            "Fewer than two variants have an output for the same model yet: the pairs come as the variants finish. "
            "Come back in a moment."
        )
    return (
        "Fewer than two variants have an output for the same model (the others failed or were canceled), "
        "so no pair can be judged."
    )


def pair_context(grid: Grid, pair: Pair) -> dict:
    """A blind pair: the model, its reference photo and the two outputs as left and right, nothing more."""
    model_id = pair.left.cell.model_id
    return {
        "model_id": model_id,
        "reference_url": reference_thumb(model_id, full=True),
        "left": side(pair.left.cell),
        "right": side(pair.right.cell),
    }


def side(cell: ComparisonCell) -> dict:
    """One side of a pair: the cell's id (what the vote names), its image's address and size, nothing else."""
    medium = cell.medium_path is not None
    return {
        "id": cell.id,
        "url": shown_url(cell),
        "width": (cell.medium_width if medium else None) or 512,
        "height": (cell.medium_height if medium else None) or 640,
    }
