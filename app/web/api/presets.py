"""The JSON API's presets (Bearer ADMIN_API_TOKEN or a named token), in the seed's camelCase: list, create, read,
update and delete them, ask for a preset's examples, release one of its models."""

from __future__ import annotations

from flask import g, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.core.database import db
from app.jobs.submit import parse_generation_request, request_generation
from app.models import Preset
from app.pool.release import release_one_model
from app.pool.selection import usage_counts
from app.presets import service as preset_service
from app.web.api.common import api_blueprint, get_preset_or_404, read_json_body
from app.web.auth import admin_required
from app.web.context import services
from app.web.preset_json import preset_json, presets_json

bp = api_blueprint("api_presets", __name__)


@bp.post("/presets/<id:preset_id>/generate-examples")
@admin_required
def generate_examples(preset_id: str) -> ResponseReturnValue:
    """Bearer or a JSON body → JSON (below). A signed-in browser's form post is the admin's own route's
    business: a 307 keeps its method and body (old pages and bookmarklets posting here still work)."""
    if g.auth == "session" and not request.is_json:
        return redirect(url_for("admin_gallery.generate", preset_id=preset_id), 307)
    asked = parse_generation_request(read_json_body(required=True))
    examples_per_model = asked.examples_per_model
    queued = request_generation(
        services(), preset_id, examples_per_model, model_ids=asked.model_ids, created_by=g.actor
    )
    body = {
        "success": True,
        "jobId": queued.job.id,
        "message": queued.message,
        "presetId": preset_id,
        "examplesPerModel": examples_per_model,
        "offline": queued.job.offline,
        "models": {"male": queued.selection.count("male"), "female": queued.selection.count("female")},
    }
    if asked.model_ids is not None:
        body["modelIds"] = [m.id for m in queued.selection.models]
    if queued.selection.warning:
        body["warning"] = queued.selection.warning
    return jsonify(body), 202


@bp.post("/presets/<id:preset_id>/models/<id:model_id>/release")
@admin_required
def release_model(preset_id: str, model_id: str) -> ResponseReturnValue:
    """One used model becomes free again; its examples stay. 409 while a running job holds it."""
    message = release_one_model(services(), preset_id, model_id, g.actor)
    return jsonify(success=True, presetId=preset_id, modelId=model_id, message=message, usage=usage_counts(preset_id))


@bp.get("/presets")
@admin_required
def list_presets() -> ResponseReturnValue:
    rows = db.session.scalars(select(Preset).order_by(Preset.name)).all()
    return jsonify(presets=presets_json(rows))


@bp.post("/presets")
@admin_required
def create_preset() -> ResponseReturnValue:
    preset = preset_service.create_preset(read_json_body(required=True), g.actor)
    return jsonify(preset_json(preset)), 201


@bp.get("/presets/<id:preset_id>")
@admin_required
def get_preset(preset_id: str) -> ResponseReturnValue:
    return jsonify(preset_json(get_preset_or_404(preset_id)))


@bp.patch("/presets/<id:preset_id>")
@admin_required
def update_preset(preset_id: str) -> ResponseReturnValue:
    preset = preset_service.update_preset(get_preset_or_404(preset_id), read_json_body(required=True), g.actor)
    return jsonify(preset_json(preset))


@bp.delete("/presets/<id:preset_id>")
@admin_required
def delete_preset(preset_id: str) -> ResponseReturnValue:
    message = preset_service.delete_preset(get_preset_or_404(preset_id), g.actor, services().storage)
    return jsonify(success=True, message=message)
