"""The JSON API under /api/admin (Bearer ADMIN_API_TOKEN), in the seed's camelCase."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, redirect, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import spend
from app.audit import record
from app.database import db
from app.errors import GenerationError, PresetError
from app.generation.jobs import job_json, live_job_for_preset
from app.generation.recovery import request_cancel
from app.generation.submit import parse_generation_request, request_generation, request_retry_of_failed
from app.model_release import release_one_model
from app.models import JOB_FINAL, JobStatus, Preset
from app.presets import apply_preset_fields
from app.safe_json import JSONInputError, loads_checked
from app.selection import usage_counts
from app.storage.base import preset_prefix
from app.web.auth import admin_required
from app.web.context import services
from app.web.errors import error_response
from app.web.preset_json import preset_json, presets_json

bp = Blueprint("api", __name__, url_prefix="/api/admin")

# The routes that read a JSON body (`read_json_body`); every other route of the API takes none.
TAKES_A_BODY = frozenset(
    "api." + name
    for name in (
        "generate_examples",
        "create_preset",
        "update_preset",
        "set_selection_state",
        "set_example_state",
        "move_gallery_example",
    )
)
NO_BODY = "This address takes no body: send none, or {}."
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@bp.before_request
def refuse_a_body_where_none_is_taken():
    """A route that takes no body accepts nothing or {} and refuses anything else (400) before it acts:
    options it would ignore, or a body it cannot parse, are a caller's mistake worth telling."""
    if request.endpoint in TAKES_A_BODY:
        return None
    if request.mimetype in FORM_TYPES and (request.content_length or request.form or request.files):
        return error_response(400, NO_BODY)  # a form: the app's input checks parsed it, its raw bytes are gone
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        body = loads_checked(raw)
    except JSONInputError as exc:
        return error_response(400, f"{exc} {NO_BODY}")
    if body != {}:
        return error_response(400, NO_BODY)
    return None


def read_json_body(required: bool):
    """The parsed JSON body, None when empty and allowed, or a GenerationError with a message."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise GenerationError(
                'The request body must be a JSON object, e.g. {"examplesPerModel": 1} (send {} for the defaults).'
            )
        return None
    if not request.is_json:
        raise GenerationError("Send the body as JSON with 'Content-Type: application/json'.")
    try:
        body = loads_checked(raw)
    except JSONInputError as exc:  # too deep, too large, NaN, bad text…: say which
        raise GenerationError(str(exc)) from None
    if body is None:
        raise GenerationError("The request body must be a JSON object, not null.")
    return body


def get_preset_or_404(preset_id: str) -> Preset:
    preset = db.session.get(Preset, preset_id)
    if preset is None:
        raise PresetError(f"No preset with id {preset_id!r}.", 404)
    return preset


@bp.post("/presets/<id:preset_id>/generate-examples")
@admin_required
def generate_examples(preset_id: str):
    """Bearer or a JSON body → JSON (below). A signed-in browser's form post is the admin's own route's
    business: a 307 keeps its method and body (old pages and bookmarklets posting here still work)."""
    if g.auth == "session" and not request.is_json:
        return redirect(url_for("admin_presets.generate", preset_id=preset_id), 307)
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
def release_model(preset_id: str, model_id: str):
    """One used model becomes free again; its examples stay. 409 while a running job holds it."""
    message = release_one_model(services(), preset_id, model_id, g.actor)
    return jsonify(success=True, presetId=preset_id, modelId=model_id, message=message, usage=usage_counts(preset_id))


@bp.get("/jobs/<id:job_id>")
@admin_required
def get_job(job_id: str):
    data = job_json(services(), job_id)
    if data is None:
        return error_response(404, f"No job with id {job_id!r}.")
    if data.get("status") in JOB_FINAL:  # a running job's poll reads only the progress store
        data = {**data, "spendUsd": spend.as_text(spend.job_spend(job_id))}
    return jsonify(data)


@bp.get("/spend")
@admin_required
def month_spend():
    """This UTC month's spend and reservations against SPEND_LIMIT_PER_MONTH_USD."""
    return jsonify(success=True, **spend.month_json(services().settings))


@bp.get("/presets")
@admin_required
def list_presets():
    presets = db.session.scalars(select(Preset).order_by(Preset.name)).all()
    return jsonify(presets=presets_json(presets))


@bp.post("/presets")
@admin_required
def create_preset():
    body = read_json_body(required=True)
    preset = Preset()
    apply_preset_fields(preset, body, creating=True)
    preset.created_by = preset.updated_by = g.actor
    db.session.add(preset)
    record(g.actor, "preset.create", f"preset {preset.name}")
    commit_preset()
    return jsonify(preset_json(preset)), 201


@bp.get("/presets/<id:preset_id>")
@admin_required
def get_preset(preset_id: str):
    return jsonify(preset_json(get_preset_or_404(preset_id)))


@bp.patch("/presets/<id:preset_id>")
@admin_required
def update_preset(preset_id: str):
    preset = get_preset_or_404(preset_id)
    apply_preset_fields(preset, read_json_body(required=True), creating=False)
    preset.updated_by = g.actor
    record(g.actor, "preset.update", f"preset {preset.name}")
    commit_preset()
    return jsonify(preset_json(preset))


@bp.delete("/presets/<id:preset_id>")
@admin_required
def delete_preset(preset_id: str):
    preset = get_preset_or_404(preset_id)
    if live_job_for_preset(preset.id):
        raise PresetError(
            f'Preset "{preset.name}" has a job in progress; wait for it to finish (or cancel it) before deleting.', 409
        )
    db.session.delete(preset)
    record(g.actor, "preset.delete", f"preset {preset.name}", f"id {preset_id}")
    db.session.commit()
    services().storage.delete_tree(preset_prefix(preset_id))
    return jsonify(success=True, message=f'Preset "{preset.name}" deleted.')


def commit_preset() -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise PresetError("A preset with this name already exists; choose another name.", 409) from None


@bp.post("/jobs/<id:job_id>/cancel")
@admin_required
def cancel_job(job_id: str):
    outcome = request_cancel(services(), job_id)  # an AppError is answered by the app's error handler
    record(g.actor, "job.cancel", f"job {job_id}")
    db.session.commit()
    message = "Job canceled." if outcome == JobStatus.CANCELED else "Cancel requested; the worker is stopping the job."
    return jsonify(success=True, jobId=job_id, status=outcome, message=message), 202


@bp.post("/jobs/<id:job_id>/retry")
@admin_required
def retry_failed(job_id: str):
    queued = request_retry_of_failed(services(), job_id, created_by=g.actor)
    body = {
        "success": True,
        "jobId": queued.job.id,
        "retryOf": job_id,
        "presetId": queued.job.preset_id,
        "message": f"Retrying {queued.job.total} failed items of {len(queued.selection.models)} models",
        "modelIds": [m.id for m in queued.selection.models],
        "items": [{"modelId": i.model_id, "index": i.example_index} for i in queued.job.items],
    }
    if queued.selection.warning:
        body["warning"] = queued.selection.warning
    return jsonify(body), 202
