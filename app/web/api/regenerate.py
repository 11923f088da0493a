"""The JSON API's regenerate: one new example for an example's model and index."""

from __future__ import annotations

from flask import g, jsonify
from flask.typing import ResponseReturnValue

from app.jobs.regenerate import regeneration_message, request_regeneration
from app.web.api.common import api_blueprint
from app.web.auth import admin_required
from app.web.context import services

bp = api_blueprint("api_regenerate", __name__)


@bp.post("/presets/<id:preset_id>/examples/<id:example_id>/regenerate")
@admin_required
def regenerate_example(preset_id: str, example_id: str) -> ResponseReturnValue:
    """202 with the one-item job; 404 for an unknown example (or another preset's), 409 while another job
    of the preset works on the model or when the monthly budget is short."""
    queued = request_regeneration(services(), preset_id, example_id, created_by=g.actor)
    item = queued.job.items[0]
    return jsonify(
        success=True,
        jobId=queued.job.id,
        regenerateOf=example_id,
        presetId=preset_id,
        modelId=item.model_id,
        index=item.example_index,
        offline=queued.job.offline,
        message=regeneration_message(queued),
    ), 202
