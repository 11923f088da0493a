"""Regenerate one example from its card: a one-item job with the preset's current prompt and settings.

htmx gets the new job's progress fragment in the generate panel (its example joins the gallery as the
poll finds it; an error goes to the panel's feedback); a plain form post a 303 to the job page, or back
to the card with the reason.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, url_for
from flask.typing import ResponseReturnValue

from app.core.database import db
from app.core.errors import GenerationError
from app.jobs.regenerate import regeneration_message, request_regeneration
from app.web.admin.common import fragment, is_htmx, services
from app.web.admin.form_errors import FormErrors
from app.web.admin.progress_fragment import queued_fragment

bp = Blueprint("admin_regenerate", __name__, url_prefix="/admin")


@bp.post("/presets/<id:preset_id>/examples/<id:example_id>/regenerate")
def regenerate_example(preset_id: str, example_id: str) -> ResponseReturnValue:
    try:
        queued = request_regeneration(services(), preset_id, example_id, created_by=g.actor)
    except GenerationError as exc:
        db.session.rollback()
        if is_htmx():
            return fragment(
                "admin/_generate_error.html",
                errors=FormErrors(general=[exc.message]),
                headers={"HX-Retarget": "#generate-feedback", "HX-Reswap": "innerHTML show:top"},
            )
        flash(exc.message, "error")
        return redirect(url_for("admin_presets.preset", preset_id=preset_id) + f"#example-{example_id}", 303)
    job, message = queued.job, regeneration_message(queued)
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for("admin_jobs.job", job_id=job.id), 303)
    return queued_fragment(preset_id, job, message, None)
