"""The JSON API's comparisons: start one on a preset, read it (grid, totals, scores), vote on a blind pair, cancel
it, adopt a variant."""

from __future__ import annotations

from flask import g, jsonify
from flask.typing import ResponseReturnValue

from app.comparisons.adopt import adopt, parse_adoption
from app.comparisons.cancel import cancel_comparison
from app.comparisons.reading import Grid, comparison_json, comparisons_of, get_comparison, read_grid, tally_votes
from app.comparisons.request import parse_comparison_request
from app.comparisons.start import start_comparison
from app.comparisons.votes import cast_vote, parse_ballot
from app.core.errors import AppError
from app.web.api.common import api_blueprint, get_preset_or_404, read_json_body
from app.web.auth import admin_required
from app.web.context import services

bp = api_blueprint("api_comparisons", __name__)


def grid_or_404(comparison_id: str) -> Grid:
    comparison = get_comparison(comparison_id)
    if comparison is None:
        raise AppError(f"No comparison with id {comparison_id!r}.", 404)
    return read_grid(comparison)


@bp.post("/presets/<id:preset_id>/comparisons")
@admin_required
def start(preset_id: str) -> ResponseReturnValue:
    """202 with the comparison's id, variants and models; 400 for a bad variant, 404 for an unknown preset, 409 over
    the monthly budget (naming what is left) or for a retired or turned-off provider."""
    wanted = parse_comparison_request(read_json_body(required=True))
    comparison = start_comparison(services(), preset_id, wanted, g.actor)
    grid = read_grid(comparison)
    body = comparison_json(grid, services().storage)
    message = f"Comparison queued: {len(grid.variants)} variants x {len(grid.model_ids)} models."
    return jsonify(comparisonId=comparison.id, message=message, **body), 202


@bp.get("/presets/<id:preset_id>/comparisons")
@admin_required
def list_for_preset(preset_id: str) -> ResponseReturnValue:
    preset = get_preset_or_404(preset_id)
    storage = services().storage
    return jsonify(comparisons=[comparison_json(grid, storage) for grid in comparisons_of(preset.id)])


@bp.get("/comparisons/<id:comparison_id>")
@admin_required
def get(comparison_id: str) -> ResponseReturnValue:
    return jsonify(comparison_json(grid_or_404(comparison_id), services().storage))


@bp.post("/comparisons/<id:comparison_id>/votes")
@admin_required
def vote(comparison_id: str) -> ResponseReturnValue:
    """201 with the variants revealed and the scores; 400 for a pair that cannot be judged, 404 for unknown cells."""
    grid = grid_or_404(comparison_id)
    # what the answer needs of the grid, read before the vote's commit expires its rows
    variant_of, variant_ids = grid.variant_of, [v.id for v in grid.variants]
    cast = cast_vote(grid, parse_ballot(read_json_body(required=True)), g.actor)
    scores, _voters = tally_votes(comparison_id, variant_of, variant_ids)
    return jsonify(
        voteId=cast.id,
        revealed={
            "left": variant_of[cast.left_cell_id],
            "right": variant_of[cast.right_cell_id],
        },
        scores=[score.as_json() for score in scores.values()],
    ), 201


@bp.post("/comparisons/<id:comparison_id>/cancel")
@admin_required
def cancel(comparison_id: str) -> ResponseReturnValue:
    message = cancel_comparison(services(), comparison_id, g.actor)
    return jsonify(success=True, comparisonId=comparison_id, message=message), 202


@bp.post("/comparisons/<id:comparison_id>/adopt")
@admin_required
def adopt_variant(comparison_id: str) -> ResponseReturnValue:
    """200 with the new examples; 409 while it runs, once adopted, or for a model a running job holds (named)."""
    adopted = adopt(services().storage, comparison_id, parse_adoption(read_json_body(required=True)), g.actor)
    return jsonify(success=True, presetId=adopted.preset_id, exampleIds=adopted.example_ids, message=adopted.message)
