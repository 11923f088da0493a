"""Each gallery example's smaller sizes on its row, and the backfill for examples stored before sizes existed.

The pipeline makes an example's thumbnail and medium size as it stores the output (`providers.outputs`); an
example stored before that, or whose resize failed, has none (`thumb_path` null) and the pages show its
original until `flask media thumbnails` makes them here. The backfill takes only rows without sizes and
commits each row as soon as its sizes are stored, so an interrupted run resumes where it stopped and a
second run finds nothing to do.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select, update

from app.core.database import db, rowcount
from app.models import GalleryExample
from app.storage.base import Storage
from app.storage.sizes import DEFAULT_MAX_PIXELS, ImageSizes, SizingError, delete_sizes, store_sizes

BATCH = 100
MADE, FAILED, GONE = "made", "failed", "gone"


@dataclass(frozen=True)
class BackfillResult:
    """What became of one example: its sizes made, failed (and why), or gone (deleted while they were made)."""

    example_id: str
    image_path: str
    outcome: str
    detail: str = ""


def size_columns(sizes: ImageSizes) -> dict:
    """The gallery row's columns for an example's sizes."""
    return {
        "thumb_path": sizes.thumb_key,
        "thumb_width": sizes.thumb_width,
        "thumb_height": sizes.thumb_height,
        "medium_path": sizes.medium_key,
        "medium_width": sizes.medium_width,
        "medium_height": sizes.medium_height,
    }


def without_sizes() -> ColumnElement[bool]:
    return or_(GalleryExample.thumb_path.is_(None), GalleryExample.medium_path.is_(None))


def count_without_sizes() -> int:
    return db.session.scalar(select(func.count()).select_from(GalleryExample).where(without_sizes())) or 0


def backfill_sizes(
    storage: Storage, max_pixels: int = DEFAULT_MAX_PIXELS, batch: int = BATCH
) -> Iterator[BackfillResult]:
    """Make the sizes of every example that has none, in id order, a batch of rows at a time (read, then the
    read transaction ended, so no transaction stays open while images are resized); yield each result."""
    after = ""
    while True:
        rows = db.session.execute(
            select(GalleryExample.id, GalleryExample.image_path)
            .where(without_sizes(), GalleryExample.id > after)
            .order_by(GalleryExample.id)
            .limit(batch)
        ).all()
        db.session.commit()
        if not rows:
            return
        for example_id, image_path in rows:
            yield backfill_one(storage, example_id, image_path, max_pixels)
        after = rows[-1][0]


def backfill_one(storage: Storage, example_id: str, image_path: str, max_pixels: int) -> BackfillResult:
    """Read the original from storage, store its sizes, record them on the row (committed)."""
    try:
        original = storage.read_bytes(image_path)
    except FileNotFoundError:
        return BackfillResult(example_id, image_path, FAILED, "the original is missing from storage")
    except OSError as exc:
        return BackfillResult(example_id, image_path, FAILED, f"could not read the original: {exc}")
    try:
        sizes = store_sizes(storage, image_path, io.BytesIO(original), max_pixels)
    except SizingError as exc:
        return BackfillResult(example_id, image_path, FAILED, f"no sizes: {exc}")
    except OSError as exc:
        return BackfillResult(example_id, image_path, FAILED, f"could not store its sizes: {exc}")
    updated = rowcount(
        db.session.execute(update(GalleryExample).where(GalleryExample.id == example_id).values(**size_columns(sizes)))
    )
    db.session.commit()
    if not updated:  # deleted while its sizes were made: leave no orphan files
        delete_sizes(storage, image_path)
        return BackfillResult(example_id, image_path, GONE, "deleted while its sizes were made")
    return BackfillResult(
        example_id,
        image_path,
        MADE,
        f"thumb {sizes.thumb_width}x{sizes.thumb_height}, medium {sizes.medium_width}x{sizes.medium_height}",
    )
