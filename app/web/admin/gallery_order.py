"""The gallery's order, defined once, and where one example stands in it (previous / next for the large view).

`gallery_order` is the order the preset page shows (newest first, as `common.gallery_page` pages it) and
`in_gallery` which examples it shows; the side-by-side view's ← / → follow them, so changing the gallery's
order (curation: featured, approved, unreviewed, then the manual position) means changing these two.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select

from ...database import db
from ...models import GalleryExample


def gallery_order() -> tuple[ColumnElement, ...]:
    """ORDER BY of the gallery as the page shows it; the id breaks ties so the order is total."""
    return (GalleryExample.created_at.desc(), GalleryExample.id.desc())


def in_gallery(preset_id: str) -> tuple[ColumnElement[bool], ...]:
    """WHERE of the examples the preset's gallery shows."""
    return (GalleryExample.preset_id == preset_id,)


@dataclass(frozen=True)
class Place:
    """An example's place in its gallery: 1-based position, how many there are, and its neighbours' ids."""

    position: int
    total: int
    previous_id: str | None
    next_id: str | None


def place_in_gallery(preset_id: str, example_id: str) -> Place | None:
    """Where `example_id` stands in the preset's gallery, in one query (window functions over the gallery's
    order, whatever it is); None when the gallery does not show it."""
    order = gallery_order()
    ranked = (
        select(
            GalleryExample.id.label("id"),
            func.lag(GalleryExample.id).over(order_by=order).label("previous_id"),
            func.lead(GalleryExample.id).over(order_by=order).label("next_id"),
            func.row_number().over(order_by=order).label("position"),
            func.count().over().label("total"),
        )
        .where(*in_gallery(preset_id))
        .subquery()
    )
    row = db.session.execute(select(ranked).where(ranked.c.id == example_id)).first()
    if row is None:
        return None
    return Place(position=row.position, total=row.total, previous_id=row.previous_id, next_id=row.next_id)
