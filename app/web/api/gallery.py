"""The gallery under /api/admin: its pages in the curated order with filters, the curators' verdicts
(one example or a selection) and the manual order.
"""

from __future__ import annotations

from flask import g, jsonify, request
from flask.typing import ResponseReturnValue

from app.gallery.curation import move_example, parse_move, parse_state_change, set_state
from app.gallery.query import curated_json, parse_gallery_query
from app.web.api.common import api_blueprint, get_preset_or_404, read_json_body
from app.web.auth import admin_required
from app.web.context import services
from app.web.gallery_json import gallery_page_json

bp = api_blueprint("api_gallery", __name__)


@bp.get("/presets/<id:preset_id>/gallery")
@admin_required
def preset_gallery(preset_id: str) -> ResponseReturnValue:
    """?page=&perPage=&state=&gender=&provider=&job= → {items, page, perPage, total, next}."""
    get_preset_or_404(preset_id)
    return jsonify(gallery_page_json(preset_id, parse_gallery_query(request.args)))


@bp.post("/presets/<id:preset_id>/gallery/state")
@admin_required
def set_selection_state(preset_id: str) -> ResponseReturnValue:
    """{"ids": [...], "state": "approved", "releaseModel": false}: exactly those examples, or none."""
    change = parse_state_change(read_json_body(required=True))
    curated = set_state(preset_id, change, g.actor)
    storage = services().storage
    return jsonify(
        success=True,
        presetId=preset_id,
        state=curated.state,
        message=curated.message,
        count=len(curated.examples),
        items=[curated_json(e, storage) for e in curated.examples],
        releasedModels=curated.released,
    )


@bp.post("/presets/<id:preset_id>/gallery/<id:example_id>/state")
@admin_required
def set_example_state(preset_id: str, example_id: str) -> ResponseReturnValue:
    """{"state": "rejected", "releaseModel": true}: one example's verdict (and its model released)."""
    change = parse_state_change(read_json_body(required=True), example_id)
    curated = set_state(preset_id, change, g.actor, one=True)
    return jsonify(
        success=True,
        presetId=preset_id,
        state=curated.state,
        message=curated.message,
        item=curated_json(curated.examples[0], services().storage),
        releasedModels=curated.released,
    )


@bp.post("/presets/<id:preset_id>/gallery/<id:example_id>/move")
@admin_required
def move_gallery_example(preset_id: str, example_id: str) -> ResponseReturnValue:
    """{"before": id} | {"after": id} | {"direction": "earlier" | "later"}, within the example's group."""
    moved = move_example(preset_id, example_id, parse_move(read_json_body(required=True)), g.actor)
    return jsonify(
        success=True,
        presetId=preset_id,
        message=moved.message,
        place=moved.place,
        groupSize=moved.group_size,
        item=curated_json(moved.example, services().storage),
    )
