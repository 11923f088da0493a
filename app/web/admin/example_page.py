"""What the large view of one example shows (`views_example`, and `views_review` after an action): the
example beside its reference photo, its neighbours in the gallery, the review's progress and the curator's
review settings, and the regeneration that links it to another example."""

from __future__ import annotations

from typing import Any

from flask import abort, g, session, url_for
from sqlalchemy import select

from app.core.database import db
from app.gallery.review import latest_regeneration, regenerated_as, regenerated_from, review_progress
from app.models import CurationState, GalleryExample, Job, Preset
from app.web.admin.common import reference_thumb, services
from app.web.admin.gallery_order import place_in_gallery

THEN_IN_ORDER = "order"  # after a verdict: the gallery's next example, not the next unreviewed one


def view_url(preset_id: str, example_id: str | None) -> str | None:
    if not example_id:
        return None
    return url_for("admin_example.example_view", preset_id=preset_id, example_id=example_id)


def then_in_order() -> bool:
    """The curator's choice of what follows a verdict, kept in their session."""
    return session.get("review_then") == THEN_IN_ORDER


def review_keys_on() -> bool:
    """Single-key shortcuts, on unless the signed-in user turned them off (WCAG 2.1.4)."""
    user = g.get("user")
    return user is None or bool(getattr(user, "review_keys", True))


def example_context(preset: Preset, example_id: str) -> dict[str, Any]:
    """The view's template context; a 404 for an example that is not (or no longer) in this preset's gallery."""
    row = db.session.execute(
        select(GalleryExample, Job.created_by)
        .outerjoin(Job, Job.id == GalleryExample.job_id)
        .where(GalleryExample.id == example_id, GalleryExample.preset_id == preset.id)
    ).first()
    rejected = row is not None and row[0].state == CurationState.REJECTED
    place = place_in_gallery(preset.id, example_id, rejected) if row is not None else None
    if row is None or place is None:
        abort(404, "This preset's gallery has no such example: it may have been deleted.")
    example, created_by = row
    storage = services().storage
    return dict(
        preset=preset,
        example=example,
        created_by=created_by,
        place=place,
        output_url=storage.url(example.medium_path or example.image_path),  # the original until sizes are made
        original_url=storage.url(example.image_path),
        reference_url=reference_thumb(example.model_id, full=True),
        previous_url=view_url(preset.id, place.previous_id),
        next_url=view_url(preset.id, place.next_id),
        back_url=url_for("admin_presets.preset", preset_id=preset.id) + f"#example-{example.id}",
        progress=review_progress(preset.id),
        then_in_order=then_in_order(),
        keys_on=review_keys_on(),
        regenerated_from=regenerated_from(example),
        regenerated_as=regenerated_as(example),
        regeneration=latest_regeneration(example.id),
    )
