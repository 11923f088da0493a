"""Reviewing a gallery one example at a time (the large view's review mode): how far the review is, which
example comes after a verdict, and which examples a regeneration links.

After a verdict the curator goes to the next example still unreviewed (after this one in the gallery's order,
then from the start), or, when they chose "next in order", to the gallery's next example whatever its state.
The next example is found before the verdict is written, since a verdict moves the example to another group.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.core.database import db
from app.models import CURATED_ORDER, CurationState, GalleryExample, Job


@dataclass(frozen=True)
class ReviewProgress:
    """How many examples of the preset (rejected ones included) have a verdict, and how many have each."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def reviewed(self) -> int:
        return self.total - self.counts.get(CurationState.UNREVIEWED, 0)

    @property
    def done(self) -> bool:
        return self.reviewed == self.total

    @property
    def line(self) -> str:
        return f"{self.reviewed} of {self.total} reviewed in this gallery"


def review_progress(preset_id: str) -> ReviewProgress:
    rows = db.session.execute(
        select(GalleryExample.state, func.count())
        .where(GalleryExample.preset_id == preset_id)
        .group_by(GalleryExample.state)
    ).all()
    counts = {state.value: 0 for state in CurationState} | {state: count for state, count in rows}
    return ReviewProgress(counts)


def unreviewed_ids(preset_id: str) -> list[str]:
    """The unreviewed examples' ids in the gallery's order (ids only: one light query)."""
    return list(
        db.session.scalars(
            select(GalleryExample.id)
            .where(GalleryExample.preset_id == preset_id, GalleryExample.state == CurationState.UNREVIEWED)
            .order_by(*CURATED_ORDER)
        )
    )


def next_unreviewed(preset_id: str, example_id: str | None = None) -> str | None:
    """The unreviewed example after `example_id` in the gallery's order, else the first one that is not
    `example_id`; None when every other example has its verdict."""
    ids = unreviewed_ids(preset_id)
    if example_id in ids:
        at = ids.index(example_id)
        ids = ids[at + 1 :] + ids[:at]
    return ids[0] if ids else None


def regenerated_from(example: GalleryExample) -> GalleryExample | None:
    """The example this one redoes (its job's `regenerate_of`), while that example is still in the gallery."""
    if example.job_id is None:
        return None
    origin = db.session.scalar(select(Job.regenerate_of).where(Job.id == example.job_id))
    found = db.session.get(GalleryExample, origin) if origin else None
    return found if found is not None and found.preset_id == example.preset_id else None


def regenerated_as(example: GalleryExample) -> list[GalleryExample]:
    """The examples made by regenerating this one, newest first."""
    return list(
        db.session.scalars(
            select(GalleryExample)
            .join(Job, Job.id == GalleryExample.job_id)
            .where(Job.regenerate_of == example.id, GalleryExample.preset_id == example.preset_id)
            .order_by(GalleryExample.created_at.desc(), GalleryExample.id.desc())
        )
    )


def latest_regeneration(example_id: str) -> Job | None:
    """The newest job that regenerates this example (its progress is shown in the view)."""
    return db.session.scalar(
        select(Job).where(Job.regenerate_of == example_id).order_by(Job.created_at.desc(), Job.id.desc()).limit(1)
    )
