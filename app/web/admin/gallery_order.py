"""Where one example stands in its gallery (previous / next for the large view), in the curated order.

The side-by-side view's ← / → follow the order the preset page shows (`models.CURATED_ORDER`:
featured, approved, unreviewed, each by manual position, then newest first). A rejected example, shown
only when asked for, moves among the rejected ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select

from app.core.database import db
from app.models import CURATED_ORDER, CurationState, GalleryExample


def in_gallery(preset_id: str, rejected: bool) -> tuple[ColumnElement[bool], ...]:
    """WHERE of the examples shown with this one: the gallery, or (for a rejected one) the rejected."""
    state = GalleryExample.state
    return (
        GalleryExample.preset_id == preset_id,
        state == CurationState.REJECTED if rejected else state != CurationState.REJECTED,
    )


@dataclass(frozen=True)
class Place:
    """An example's place in its gallery: 1-based position, how many there are, and its neighbours' ids."""

    position: int
    total: int
    previous_id: str | None
    next_id: str | None


def place_in_gallery(preset_id: str, example_id: str, rejected: bool = False) -> Place | None:
    """Where `example_id` stands in the preset's gallery, in one query (window functions over the gallery's
    order, whatever it is); None when the gallery does not show it."""
    order = CURATED_ORDER
    ranked = (
        select(
            GalleryExample.id.label("id"),
            func.lag(GalleryExample.id).over(order_by=order).label("previous_id"),
            func.lead(GalleryExample.id).over(order_by=order).label("next_id"),
            func.row_number().over(order_by=order).label("position"),
            func.count().over().label("total"),
        )
        .where(*in_gallery(preset_id, rejected))
        .subquery()
    )
    row = db.session.execute(select(ranked).where(ranked.c.id == example_id)).first()
    if row is None:
        return None
    return Place(position=row.position, total=row.total, previous_id=row.previous_id, next_id=row.next_id)
