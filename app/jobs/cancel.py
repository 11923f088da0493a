"""Canceling a job, as an admin asks it (the API, the job page or the preset page): the cancel itself
(`recovery.request_cancel`), its entry in the activity log and the message to show, the same whichever was used."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.accounts.audit import record
from app.core.database import db
from app.jobs.needs import JobServices
from app.jobs.recovery import request_cancel
from app.models import Job, JobStatus


@dataclass(frozen=True)
class Canceled:
    status: str  # JobStatus.CANCELED, or "cancel requested" while the worker stops it
    message: str


def cancel_job(services: JobServices, job_id: str, actor: str | None) -> Canceled:
    """Cancel the job and record who did; a CancelError (404 unknown, 409 ended) changes nothing."""
    status = request_cancel(services, job_id)
    preset_id = db.session.scalar(select(Job.preset_id).where(Job.id == job_id))
    record(actor, "job.cancel", f"job {job_id}", preset_id=preset_id, subjects=[job_id])
    db.session.commit()
    if status == JobStatus.CANCELED:
        return Canceled(status, "Job canceled.")
    return Canceled(status, "Cancel requested: the worker is canceling the predictions in flight.")
