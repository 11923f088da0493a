"""The JSON API's jobs: read one (its progress while it runs), cancel it, retry its failed items."""

from __future__ import annotations

from flask import g, jsonify
from flask.typing import ResponseReturnValue

from app.jobs import cancel
from app.jobs.reading import job_json
from app.jobs.submit import request_retry_of_failed
from app.models import JOB_FINAL
from app.spend import ledger
from app.web.api.common import api_blueprint
from app.web.auth import admin_required
from app.web.context import services
from app.web.errors import error_response

bp = api_blueprint("api_jobs", __name__)


@bp.get("/jobs/<id:job_id>")
@admin_required
def get_job(job_id: str) -> ResponseReturnValue:
    data = job_json(services(), job_id)
    if data is None:
        return error_response(404, f"No job with id {job_id!r}.")
    if data.get("status") in JOB_FINAL:  # a running job's poll reads only the progress store
        data = {**data, "spendUsd": ledger.as_text(ledger.job_spend(job_id))}
    return jsonify(data)


@bp.post("/jobs/<id:job_id>/cancel")
@admin_required
def cancel_job(job_id: str) -> ResponseReturnValue:
    canceled = cancel.cancel_job(services(), job_id, g.actor)  # an AppError is answered by the app's handler
    return jsonify(success=True, jobId=job_id, status=canceled.status, message=canceled.message), 202


@bp.post("/jobs/<id:job_id>/retry")
@admin_required
def retry_failed(job_id: str) -> ResponseReturnValue:
    queued = request_retry_of_failed(services(), job_id, created_by=g.actor)
    body = {
        "success": True,
        "jobId": queued.job.id,
        "retryOf": job_id,
        "presetId": queued.job.preset_id,
        "message": queued.retry_message,
        "failedItems": queued.rerun.failed if queued.rerun else 0,
        "canceledItems": queued.rerun.canceled if queued.rerun else 0,
        "modelIds": [m.id for m in queued.selection.models],
        "items": [{"modelId": i.model_id, "index": i.example_index} for i in queued.job.items],
    }
    if queued.selection.warning:
        body["warning"] = queued.selection.warning
    return jsonify(body), 202
