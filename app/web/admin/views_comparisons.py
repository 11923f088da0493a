"""Comparisons in the browser: start one from the preset page, its grid (live while it runs), the blind review
(a pair, the vote, the reveal) and adopting a variant. Plain POST forms with the CSRF token answered with a 303,
as the review mode's; the same services as the JSON API (`app.comparisons`), so the same rules and messages."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app import provider_rows
from app.comparisons.adopt import AdoptError, adopt, parse_adoption
from app.comparisons.cancel import cancel_comparison
from app.comparisons.reading import Grid, get_comparison, read_grid
from app.comparisons.request import parse_comparison_request
from app.comparisons.start import start_comparison
from app.comparisons.votes import VoteError, cast_vote, next_pair, parse_ballot
from app.core.database import db
from app.core.errors import AppError, CancelError
from app.models import ComparisonVote
from app.web.admin.common import get_preset, is_htmx, services
from app.web.admin.comparison_form import ROWS, form_defaults, request_body
from app.web.admin.comparison_grid import (
    PROMPT_SHOWN,
    columns_of,
    media_url,
    no_pair_reason,
    pair_context,
    rows_of,
    shown_url,
)
from app.web.admin.progress_fragment import STOP_POLLING

bp = Blueprint("admin_comparisons", __name__, url_prefix="/admin")

VERDICT_WORDS = {
    "left": "the left one is better",
    "right": "the right one is better",
    "both_good": "both are good",
    "both_bad": "both are bad",
}


def grid_or_404(comparison_id: str) -> Grid:
    comparison = get_comparison(comparison_id)
    if comparison is None:
        abort(404, f"No comparison with id {comparison_id!r}: it may have been deleted with its preset.")
    return read_grid(comparison)


def grid_url(comparison_id: str) -> str:
    return url_for("admin_comparisons.comparison", comparison_id=comparison_id)


def review_url(comparison_id: str, vote: int | None = None) -> str:
    return url_for("admin_comparisons.review", comparison_id=comparison_id, vote=vote)


# -- start ---------------------------------------------------------------------------------------------------
def render_new(preset_id: str, values: dict, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    preset = get_preset(preset_id)
    providers = provider_rows.active_providers()
    return render_template(
        "admin/comparison_new.html", preset=preset, values=values, error=error, rows=ROWS, providers=providers
    ), status


@bp.get("/presets/<id:preset_id>/comparisons/new")
def new_comparison(preset_id: str) -> ResponseReturnValue:
    """The start form, linked from the preset page; a refused start shows it again with its message."""
    return render_new(preset_id, form_defaults())


@bp.post("/presets/<id:preset_id>/comparisons")
def start(preset_id: str) -> ResponseReturnValue:
    """Same as POST /api/admin/presets/<id>/comparisons; a refusal shows the form again with its message."""
    get_preset(preset_id)
    try:
        body = request_body(request.form, provider_rows.all_providers())
        comparison = start_comparison(services(), preset_id, parse_comparison_request(body), g.actor)
    except AppError as exc:
        db.session.rollback()
        return render_new(preset_id, request.form.to_dict(), exc.message, exc.status)
    count = len(comparison.variants)
    flash(f"Comparison started: {count} variants, each on the same reference models.", "success")
    return redirect(grid_url(comparison.id), 303)


# -- the grid ------------------------------------------------------------------------------------------------
def grid_context(grid: Grid) -> dict:
    return {
        "grid": grid,
        "columns": columns_of(grid),
        "rows": rows_of(grid),
        "media": media_url,
        "prompt_shown": PROMPT_SHOWN,
        "adoptable": not grid.is_live and not grid.comparison.adopted_variant_id,
    }


@bp.get("/comparisons/<id:comparison_id>")
def comparison(comparison_id: str) -> ResponseReturnValue:
    grid = grid_or_404(comparison_id)
    preset = get_preset(grid.comparison.preset_id)
    return render_template("admin/comparison.html", preset=preset, **grid_context(grid))


@bp.get("/comparisons/<id:comparison_id>/live")
def live(comparison_id: str) -> ResponseReturnValue:
    """The grid's region, which the page polls every 2 s while the comparison runs; once it has ended the page
    is reloaded whole (the adopt forms appear, Cancel goes) and the polling stops."""
    grid = grid_or_404(comparison_id)
    html = render_template("admin/_comparison_live.html", **grid_context(grid))
    if grid.is_live or not is_htmx():
        return html
    return html, STOP_POLLING, {"HX-Refresh": "true"}


@bp.post("/comparisons/<id:comparison_id>/cancel")
def cancel(comparison_id: str) -> ResponseReturnValue:
    """Same as POST /api/admin/comparisons/<id>/cancel."""
    grid_or_404(comparison_id)
    try:
        flash(cancel_comparison(services(), comparison_id, g.actor), "success")
    except CancelError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(grid_url(comparison_id), 303)


# -- adopt ---------------------------------------------------------------------------------------------------
@bp.post("/comparisons/<id:comparison_id>/adopt")
def adopt_variant(comparison_id: str) -> ResponseReturnValue:
    """Same as POST /api/admin/comparisons/<id>/adopt: to the preset page when done, back to the grid with the
    reason when refused (nothing changed)."""
    grid_or_404(comparison_id)
    body = {"variantId": request.form.get("variant_id", ""), "cellIds": request.form.getlist("cell_ids")}
    try:
        adopted = adopt(services().storage, comparison_id, parse_adoption(body), g.actor)
    except AdoptError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(grid_url(comparison_id) + "#adopt", 303)
    flash(adopted.message, "success")
    return redirect(url_for("admin_presets.preset", preset_id=adopted.preset_id), 303)


# -- the blind review ----------------------------------------------------------------------------------------
@bp.get("/comparisons/<id:comparison_id>/review")
def review(comparison_id: str) -> ResponseReturnValue:
    """A pair to judge, or (`?vote=<id>`, after a vote) the pair just judged with its variants revealed."""
    grid = grid_or_404(comparison_id)
    preset = get_preset(grid.comparison.preset_id)
    context: dict = {"grid": grid, "preset": preset, "votes": sum(grid.voters.values())}
    vote_id = request.args.get("vote", type=int)
    if vote_id is not None:
        return render_template("admin/comparison_reveal.html", **context, **reveal_context(grid, vote_id))
    pair = next_pair(grid)
    if pair is None:
        return render_template("admin/comparison_review.html", **context, pair=None, reason=no_pair_reason(grid))
    return render_template("admin/comparison_review.html", **context, pair=pair_context(grid, pair))


def reveal_context(grid: Grid, vote_id: int) -> dict:
    vote = db.session.scalar(
        select(ComparisonVote).where(ComparisonVote.id == vote_id, ComparisonVote.comparison_id == grid.comparison.id)
    )
    cells = {c.cell.id: c.cell for c in grid.cells}
    if vote is None or vote.left_cell_id not in cells or vote.right_cell_id not in cells:
        abort(404, f"No vote {vote_id} in this comparison.")
    left, right = cells[vote.left_cell_id], cells[vote.right_cell_id]
    return {
        "vote": vote,
        "verdict": VERDICT_WORDS.get(vote.verdict, vote.verdict),
        "model_id": left.model_id,
        "sides": [
            ("Left", left, grid.variant(left.variant_id), shown_url(left)),
            ("Right", right, grid.variant(right.variant_id), shown_url(right)),
        ],
    }


@bp.post("/comparisons/<id:comparison_id>/review")
def vote(comparison_id: str) -> ResponseReturnValue:
    """Same as POST /api/admin/comparisons/<id>/votes (left, right, verdict); then the reveal."""
    grid = grid_or_404(comparison_id)
    form = request.form
    try:
        ballot = parse_ballot({k: form.get(k) for k in ("left", "right", "verdict")})
        cast = cast_vote(grid, ballot, g.actor)
    except VoteError as exc:
        db.session.rollback()
        flash(f"{exc.message} Here is another pair.", "error")
        return redirect(review_url(comparison_id), 303)
    return redirect(review_url(comparison_id, vote=cast.id), 303)
