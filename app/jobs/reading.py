"""Reading jobs: live progress from the progress store first, the database otherwise.

While a job runs, its progress record answers without a database query. A job with no
record falls back to its rows; a job that exists nowhere is reported as missing, never
as done.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ScalarSelect, Select, select

from app.core.database import db
from app.jobs.progress import ProgressRecord, read_record
from app.models import JOB_LIVE, Job


def job_json(services, job_id: str) -> dict | None:
    try:
        record = read_record(services.progress, job_id)
    except Exception:  # progress store down: the database still knows
        record = None
    if record is not None and not record.is_stale(services.settings.job_stale_seconds):
        return record.api_json() | {"id": job_id}
    job = db.session.get(Job, job_id)
    return ProgressRecord.from_job(job).api_json() if job else None


def live_jobs(preset_id: Any) -> Select:
    """The preset's queued or running jobs, newest first; `preset_id` a value or a column (a subquery's)."""
    return select(Job).where(Job.preset_id == preset_id, Job.status.in_(JOB_LIVE)).order_by(Job.created_at.desc())


def live_job_for_preset(preset_id: str) -> Job | None:
    return db.session.scalars(live_jobs(preset_id).limit(1)).first()


def live_job_id_column(preset_id: Any) -> ScalarSelect:
    """The id `live_job_for_preset` finds, as a scalar subquery on `preset_id` (a column)."""
    return live_jobs(preset_id).with_only_columns(Job.id).limit(1).scalar_subquery()
