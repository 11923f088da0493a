"""Reading jobs: live progress from the progress store first, the database otherwise.

While a job runs, its progress record answers without a database query. A job with no
record falls back to its rows; a job that exists nowhere is reported as missing, never
as done.
"""

from __future__ import annotations

from app.core.database import db
from app.jobs.needs import JobServices
from app.jobs.progress import ProgressRecord, read_record
from app.models import Job


def job_json(services: JobServices, job_id: str) -> dict | None:
    try:
        record = read_record(services.progress, job_id)
    except Exception:  # progress store down: the database still knows
        record = None
    if record is not None and not record.is_stale(services.settings.job_stale_seconds):
        return record.api_json() | {"id": job_id}
    job = db.session.get(Job, job_id)
    return ProgressRecord.from_job(job).api_json() if job else None
