"""The preset page's gallery form: a verdict on one card or on the ticked ones, and moving one card earlier or
later within its group (the keyboard's way; drag and drop uses the JSON API).

One form for the whole gallery (the CSRF token once) posting to one endpoint; the pressed button says what to
do and to which example in its own name and value (`verdict=<id>:<state>`, `move=<id>:earlier`, or the bulk
bar's `state` for the ticked `ids`), so no card repeats a URL. Answered with a 303 back to the page it came from
(`next`), the message flashed. htmx posts the same form aimed at the gallery section: a verdict on one card is
answered with that card alone, in place (its new state shown where it was until the next reload), the counts
and the message out of band, so the scroll and the focus stay; bulk verdicts and moves follow the redirect and
get the section alone (see `views_presets.preset`).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from app.core.database import db
from app.core.errors import AppError, CurationError
from app.gallery.curation import EXAMPLE_ID, move_example, parse_move, parse_state_change, set_state
from app.gallery.query import gallery_counts
from app.models import CurationState, GalleryExample
from app.web.admin.cards import card_of_row, view_url_template
from app.web.admin.common import get_preset, is_htmx, model_pool
from app.web.auth import local_admin_path

bp = Blueprint("admin_curation", __name__, url_prefix="/admin")


@bp.post("/presets/<id:preset_id>/gallery")
def gallery_form(preset_id: str) -> ResponseReturnValue:
    """Whichever button of the gallery form was pressed: a card's verdict, a card's move or the bulk bar."""
    if "verdict" in request.form:
        return card_verdict(preset_id)
    if "move" in request.form:
        return card_move(preset_id)
    return bulk_verdict(preset_id)


def pressed(field: str) -> tuple[str, str]:
    """A card button's `<example id>:<what>`; a value of any other shape is refused with a message."""
    example_id, _, what = request.form.get(field, "").partition(":")
    if not EXAMPLE_ID.fullmatch(example_id) or not what:
        raise CurationError(f"{field} must be '<example id>:<{field}>', got {request.form.get(field, '')[:80]!r}.")
    return example_id, what


def card_verdict(preset_id: str) -> ResponseReturnValue:
    """Approve / feature / reject / reset one example (rejecting may release its model, when ticked)."""
    example_id = ""

    def act() -> str:
        nonlocal example_id
        example_id, state = pressed("verdict")
        return set_state(preset_id, parse_state_change(verdict_form(state), example_id), g.actor, one=True).message

    response = curate(preset_id, act, lambda: f"example-{example_id}" if example_id else "gallery-section")
    example = db.session.get(GalleryExample, example_id) if example_id else None
    if not is_htmx() or example is None or example.preset_id != preset_id:
        return response
    return card_in_place(example)


def card_in_place(example: GalleryExample) -> ResponseReturnValue:
    """The card alone with its new state, for htmx to swap where it is (its group's order shows on the next
    reload, so its move arrows wait for it), with the counts and the message out of band."""
    card = card_of_row(example, view_url_template(example.preset_id), first=True, last=True)
    released = verdict_form(example.state)["releaseModel"]  # the pool shows the model free again
    pool = model_pool(example.preset_id) if released else None
    html = render_template("admin/_card_in_place.html", card=card, counts=gallery_counts(example.preset_id), pool=pool)
    return html, 200, {"HX-Retarget": f"#example-{example.id}", "HX-Reswap": "outerHTML"}


def bulk_verdict(preset_id: str) -> Response:
    """The bulk bar: the verdict for exactly the ticked examples (`ids`), or none of them."""

    def act() -> str:
        ids = request.form.getlist("ids")
        if not ids:
            raise CurationError("Tick at least one example (the box on its card), then choose what to do with them.")
        state = request.form.get("state")
        return set_state(preset_id, parse_state_change(verdict_form(state) | {"ids": ids}), g.actor).message

    return curate(preset_id, act, lambda: "gallery-section")


def card_move(preset_id: str) -> Response:
    """One card earlier or later within its group."""
    example_id = ""

    def act() -> str:
        nonlocal example_id
        example_id, direction = pressed("move")
        return move_example(preset_id, example_id, parse_move({"direction": direction}), g.actor).message

    return curate(preset_id, act, lambda: f"example-{example_id}" if example_id else "gallery-section")


def verdict_form(state: str | None) -> dict:
    """The verdict and the bulk bar's "release the model" box, which only a rejection reads."""
    return {"state": state, "releaseModel": state == CurationState.REJECTED and request.form.get("release") == "1"}


def curate(preset_id: str, act: Callable[[], str], anchor: Callable[[], str]) -> Response:
    get_preset(preset_id)
    try:
        flash(act(), "success")
    except AppError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    target = local_admin_path(request.form.get("next")) or url_for("admin_presets.preset", preset_id=preset_id)
    return redirect(f"{target.split('#')[0]}#{anchor()}", 303)
