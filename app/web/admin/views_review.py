"""The large view's review mode: a verdict, a release, a delete or a regeneration of the example shown.

Plain POST forms with the CSRF token, answered with a 303: after a verdict or a delete to the next example to
review (`gallery.review`: the next unreviewed one, or the gallery's next when the curator chose "next in order"),
or to the review's summary when none is left; after a release or a regeneration back to the same example. The
overlay (JavaScript) posts the same forms with HX-Request and follows the redirect to the next view's fragment.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from app.core.database import db
from app.core.errors import AppError
from app.gallery import example_delete
from app.gallery.curation import parse_state_change, set_state
from app.gallery.review import next_unreviewed, review_progress
from app.jobs.regenerate import find_example, regeneration_message, request_regeneration
from app.models import CurationState
from app.pool.release import release_one_model
from app.web.admin.common import get_preset, is_htmx, services
from app.web.admin.example_page import THEN_IN_ORDER, example_context, view_url
from app.web.admin.gallery_order import place_in_gallery
from app.web.auth import local_admin_path

bp = Blueprint("admin_review", __name__, url_prefix="/admin")


def review_url(preset_id: str) -> str:
    return url_for("admin_review.review", preset_id=preset_id)


@bp.get("/presets/<id:preset_id>/review")
def review(preset_id: str) -> ResponseReturnValue:
    """The first unreviewed example, or the summary once every example has its verdict."""
    preset = get_preset(preset_id)
    first = next_unreviewed(preset.id)
    if first is not None:
        return redirect(view_url(preset.id, first) or review_url(preset.id), 303)
    template = "admin/_review_summary.html" if is_htmx() else "admin/review_done.html"
    back_url = url_for("admin_presets.preset", preset_id=preset.id)
    return render_template(template, preset=preset, progress=review_progress(preset.id), back_url=back_url)


def following(preset_id: str, example_id: str) -> str:
    """Where the curator goes after judging or deleting this example (asked before the change is made)."""
    if session.get("review_then") == THEN_IN_ORDER:
        example = find_example(preset_id, example_id)
        place = place_in_gallery(preset_id, example_id, example.state == CurationState.REJECTED)
        if place is not None and place.next_id:
            return view_url(preset_id, place.next_id) or review_url(preset_id)
    return view_url(preset_id, next_unreviewed(preset_id, example_id)) or review_url(preset_id)


def answer(preset_id: str, example_id: str, act_and_say: Callable[[], str], onward: bool) -> Response:
    """Run the action; on success flash its message and go onward (or stay), on a refusal stay with the reason."""
    get_preset(preset_id)
    try:
        target = following(preset_id, example_id) if onward else view_url(preset_id, example_id)
        flash(act_and_say(), "success")
    except AppError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        target = view_url(preset_id, example_id) if exc.status != 404 else review_url(preset_id)
    return redirect(target or review_url(preset_id), 303)


@bp.post("/presets/<id:preset_id>/review/<id:example_id>/verdict")
def verdict(preset_id: str, example_id: str) -> ResponseReturnValue:
    """state=approved|featured|rejected|unreviewed; then=order keeps "next in order" for this session."""
    session["review_then"] = THEN_IN_ORDER if request.form.get("then") == THEN_IN_ORDER else "unreviewed"

    def act() -> str:
        change = parse_state_change({"state": request.form.get("state")}, example_id)
        return set_state(preset_id, change, g.actor, one=True).message

    return answer(preset_id, example_id, act, onward=True)


@bp.post("/presets/<id:preset_id>/review/<id:example_id>/release")
def release(preset_id: str, example_id: str) -> ResponseReturnValue:
    """Give the example's model back to the pool; the example stays."""

    def act() -> str:
        model_id = find_example(preset_id, example_id).model_id
        return release_one_model(services(), preset_id, model_id, g.actor)

    return answer(preset_id, example_id, act, onward=False)


@bp.post("/presets/<id:preset_id>/review/<id:example_id>/delete")
def delete(preset_id: str, example_id: str) -> ResponseReturnValue:
    """Delete the example (its model released when ticked), then on to the next one to review."""

    def act() -> str:
        and_release = request.form.get("release") == "1"
        return example_delete.delete_example(preset_id, example_id, and_release, g.actor, services().storage)

    return answer(preset_id, example_id, act, onward=True)


@bp.post("/presets/<id:preset_id>/review/<id:example_id>/regenerate")
def regenerate(preset_id: str, example_id: str) -> ResponseReturnValue:
    """Queue the one-item job; the view shows its progress and, when it ends, links the new example."""

    def act() -> str:
        return regeneration_message(request_regeneration(services(), preset_id, example_id, created_by=g.actor))

    return answer(preset_id, example_id, act, onward=False)


@bp.get("/presets/<id:preset_id>/review/<id:example_id>/regeneration")
def regeneration(preset_id: str, example_id: str) -> ResponseReturnValue:
    """The view's regeneration part alone, which the overlay polls while the job runs."""
    context = example_context(get_preset(preset_id), example_id)
    return render_template("admin/_regeneration.html", **context, in_dialog=True)


@bp.post("/review-keys")
def review_keys() -> ResponseReturnValue:
    """Turn the review view's single-key shortcuts on or off for the signed-in user (WCAG 2.1.4)."""
    wanted = request.form.get("keys")
    if wanted not in ("on", "off"):
        abort(400, "keys must be on or off.")
    user = g.get("user")
    if user is None:
        abort(400, "Shortcuts are a setting of a signed-in user; an API token has none.")
    user.review_keys = wanted == "on"
    db.session.commit()
    flash(f"Single-key shortcuts are {wanted} in the review view.", "success")
    target = local_admin_path(request.form.get("next")) or url_for("admin_presets.presets")
    return redirect(target, 303)
