"""Reading jobs: live progress from the progress store first, the database otherwise.

While a job runs, its progress record answers without a database query. A job with no
record falls back to its rows; a job that exists nowhere is reported as missing, never
as done.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from ..database import db
from ..models import ITEM_OPEN, JOB_LIVE, Job, iso, utcnow


def job_json(services, job_id: str) -> dict | None:
    progress = services.progress
    try:
        record = progress.read(job_id)
    except Exception:  # progress store down: the database still knows
        record = None
    if record is not None and not record_is_stale(record, services.settings.job_stale_seconds):
        return {
            k: record.get(k)
            for k in (
                "id",
                "presetId",
                "status",
                "percent",
                "stage",
                "message",
                "done",
                "failed",
                "total",
                "items",
                "createdAt",
                "createdBy",
                "finishedAt",
                "offline",
            )
        } | {"id": job_id}
    job = db.session.get(Job, job_id)
    return job_json_from_rows(job) if job else None


def record_is_stale(record: dict, stale_seconds: float) -> bool:
    """A 'running' record nobody updated for a while (its worker died, or its last write was lost)."""
    if record.get("status") not in JOB_LIVE:
        return False
    try:
        updated = datetime.fromisoformat(record["updatedAt"].replace("Z", "+00:00")).replace(tzinfo=None)
    except (KeyError, TypeError, ValueError, AttributeError):
        return True
    return utcnow() - updated > timedelta(seconds=stale_seconds)


def item_json(item) -> dict:
    """A job item as the API and the progress record show it (a JobItem row or the runner's copy)."""
    return {
        "modelId": item.model_id,
        "gender": item.gender,
        "index": item.example_index,
        "state": item.state,
        "predictionId": item.prediction_id,
        "error": item.error,
    }


def job_json_from_rows(job: Job) -> dict:
    """The job as its rows tell it, for a job with no (fresh) progress record."""
    finished = sum(1 for i in job.items if i.state not in ITEM_OPEN)
    if job.status == "queued":
        percent, stage, message = 0, "queued", "Waiting for a worker to pick the job up"
    elif job.status in JOB_LIVE:
        percent, stage = 20 + int(60 * finished / (job.total or 1)), "running"
        message = f"{job.done} of {job.total} examples stored"
    else:
        percent, stage, message = 100, "complete", job.error or job.status
    return {
        "id": job.id,
        "presetId": job.preset_id,
        "status": job.status,
        "percent": percent,
        "stage": stage,
        "message": message,
        "done": job.done,
        "failed": job.failed,
        "total": job.total,
        "items": [item_json(i) for i in job.items],
        "createdAt": iso(job.created_at),
        "createdBy": job.created_by,
        "finishedAt": iso(job.finished_at),
        "offline": job.offline,
    }


def live_job_for_preset(preset_id: str) -> Job | None:
    return db.session.scalars(
        select(Job).where(Job.preset_id == preset_id, Job.status.in_(JOB_LIVE)).order_by(Job.created_at.desc()).limit(1)
    ).first()
