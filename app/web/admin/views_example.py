"""One example beside its reference photo, large: a plain page per example with previous / next / back links
(works without JavaScript), or the same view as a fragment for the gallery's overlay (`HX-Request`).

Previous / next follow the gallery's order (`gallery_order`: curated).
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.core.database import db
from app.models import CurationState, GalleryExample, Job
from app.pool.reference_photos import photo_url
from app.web.admin.common import get_preset, is_htmx, services
from app.web.admin.gallery_order import place_in_gallery

bp = Blueprint("admin_example", __name__, url_prefix="/admin")


@bp.get("/presets/<id:preset_id>/examples/<id:example_id>")
def example_view(preset_id: str, example_id: str) -> ResponseReturnValue:
    """The side-by-side view; 404 for an example that is not (or no longer) in this preset's gallery."""
    preset = get_preset(preset_id)
    row = db.session.execute(
        select(GalleryExample, Job.created_by)
        .outerjoin(Job, Job.id == GalleryExample.job_id)
        .where(GalleryExample.id == example_id, GalleryExample.preset_id == preset_id)
    ).first()
    rejected = row is not None and row[0].state == CurationState.REJECTED
    place = place_in_gallery(preset_id, example_id, rejected) if row is not None else None
    if row is None or place is None:
        abort(404, "This preset's gallery has no such example: it may have been deleted.")
    example, created_by = row
    storage = services().storage

    def link(other_id: str | None) -> str | None:
        return url_for("admin_example.example_view", preset_id=preset_id, example_id=other_id) if other_id else None

    context = dict(
        preset=preset,
        example=example,
        created_by=created_by,
        place=place,
        output_url=storage.url(example.medium_path or example.image_path),  # the original until sizes are made
        original_url=storage.url(example.image_path),
        reference_url=photo_url(storage, example.model_id),
        previous_url=link(place.previous_id),
        next_url=link(place.next_id),
        back_url=url_for("admin_presets.preset", preset_id=preset_id) + f"#example-{example.id}",
    )
    if is_htmx():
        return render_template("admin/_example_view.html", **context)
    return render_template("admin/example.html", **context)
