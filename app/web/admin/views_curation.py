"""The preset page's curation forms: a verdict on one example or on the ticked ones, and moving one
earlier or later within its group (the keyboard's way; drag and drop uses the JSON API).

Buttons of the gallery's one form (the CSRF token once), answered with a 303 back to the page they came from
(`next`), the message flashed. htmx posts the same form aimed at the gallery section: a verdict on one example
is answered with that card alone, in place (its new state shown where it was until the next reload), the
counts and the message out of band, so the scroll and the focus stay; bulk verdicts and moves follow the
redirect and get the section alone (see `views_presets.preset`).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from app.core.database import db
from app.core.errors import AppError, CurationError
from app.gallery.curation import move_example, parse_move, parse_state_change, set_state
from app.gallery.query import gallery_counts
from app.models import CurationState, GalleryExample
from app.web.admin.common import example_card, get_preset, is_htmx, model_pool
from app.web.auth import local_admin_path

bp = Blueprint("admin_curation", __name__, url_prefix="/admin")


@bp.post("/presets/<id:preset_id>/examples/<id:example_id>/state")
def set_example_state(preset_id: str, example_id: str) -> ResponseReturnValue:
    """Approve / feature / reject / reset one example (rejecting may release its model, when ticked)."""

    def act() -> str:
        return set_state(preset_id, parse_state_change(verdict_form(), example_id), g.actor, one=True).message

    response = curate(preset_id, act, f"example-{example_id}")
    example = db.session.get(GalleryExample, example_id)
    if not is_htmx() or example is None or example.preset_id != preset_id:
        return response
    return card_in_place(example, response.location)


def card_in_place(example: GalleryExample, back: str) -> ResponseReturnValue:
    """The card alone with its new state, for htmx to swap where it is (its group's order shows on the next
    reload, so its move arrows wait for it), with the counts and the message out of band."""
    card = example_card(example) | {"state": example.state, "back": back.split("#")[0], "first": True, "last": True}
    released = verdict_form()["releaseModel"]  # the pool shows the model free again
    pool = model_pool(example.preset_id) if released else None
    html = render_template("admin/_card_in_place.html", card=card, counts=gallery_counts(example.preset_id), pool=pool)
    return html, 200, {"HX-Retarget": f"#example-{example.id}", "HX-Reswap": "outerHTML"}


@bp.post("/presets/<id:preset_id>/examples/state")
def set_selection_state(preset_id: str) -> ResponseReturnValue:
    """The bulk bar: the verdict for exactly the ticked examples (`ids`), or none of them."""

    def act() -> str:
        ids = request.form.getlist("ids")
        if not ids:
            raise CurationError("Tick at least one example (the box on its card), then choose what to do with them.")
        return set_state(preset_id, parse_state_change(verdict_form() | {"ids": ids}), g.actor).message

    return curate(preset_id, act, "gallery-section")


@bp.post("/presets/<id:preset_id>/examples/<id:example_id>/move")
def move_example_in_group(preset_id: str, example_id: str) -> ResponseReturnValue:
    """direction=earlier|later, or before=/after= another example of the same group."""

    def act() -> str:
        asked = {key: value for key in ("direction", "before", "after") if (value := request.form.get(key))}
        return move_example(preset_id, example_id, parse_move(asked), g.actor).message

    return curate(preset_id, act, f"example-{example_id}")


def verdict_form() -> dict:
    """The form's state and its "release the model" box, which only a rejection reads."""
    state = request.form.get("state")
    return {"state": state, "releaseModel": state == CurationState.REJECTED and request.form.get("release") == "1"}


def curate(preset_id: str, act: Callable[[], str], anchor: str) -> Response:
    get_preset(preset_id)
    try:
        flash(act(), "success")
    except AppError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    target = local_admin_path(request.form.get("next")) or url_for("admin_presets.preset", preset_id=preset_id)
    return redirect(f"{target.split('#')[0]}#{anchor}", 303)
