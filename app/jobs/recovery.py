"""Keeping jobs honest when workers die, admins cancel, or a job keeps failing.

Huey deletes a task when a worker dequeues it, with no acknowledgement: a worker killed
mid-task loses it. The job row is the durable record, so every consumer sweeps every
few seconds for live jobs whose heartbeat went stale and that are not waiting in the
queue, and queues them again; the pipeline resumes them from their items. A job that
keeps coming back without progress is failed with the reason, so none shows as running
forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from app.core.database import db, rowcount
from app.core.errors import CancelError
from app.jobs.needs import JobServices
from app.jobs.progress import ProgressRecord, read_record
from app.jobs.writes import writes_for
from app.models import ITEM_OPEN, JOB_LIVE, ItemState, Job, JobItem, JobStatus, utcnow
from app.providers.base import Ending
from app.spend.ledger import JobLedger

log = logging.getLogger("app.recovery")


def progress_mark(job_id: str) -> int:
    """How far a job got: finished items plus predictions created. Unchanged means no progress."""
    finished = db.session.scalar(
        select(func.count()).select_from(JobItem).where(JobItem.job_id == job_id, JobItem.state.not_in(ITEM_OPEN))
    )
    created = db.session.scalar(
        select(func.count()).select_from(JobItem).where(JobItem.job_id == job_id, JobItem.prediction_id.isnot(None))
    )
    return (finished or 0) + (created or 0)


def sweep_stale_jobs(
    services: JobServices, queued_job_ids: Callable[[], Iterable[str]], enqueue: Callable[[str], object]
) -> list[tuple[str, str]]:
    """Re-queue lost jobs; returns (job id, action) pairs. Safe to run from many consumers at once."""
    settings = services.settings
    now = utcnow()
    stale_before = now - timedelta(seconds=settings.job_stale_seconds)
    last_sign_of_life = func.coalesce(Job.heartbeat_at, Job.created_at)
    candidates = db.session.scalars(
        select(Job).where(
            Job.status.in_(JOB_LIVE),
            last_sign_of_life < stale_before,
            (Job.requeued_at.is_(None)) | (Job.requeued_at < stale_before),
        )
    ).all()
    if not candidates:
        db.session.rollback()
        return []
    waiting = set(queued_job_ids())
    actions = []
    for job in candidates:
        if job.id in waiting:
            continue  # in the queue or scheduled for a retry: waiting its turn, not lost
        action = sweep_one(services, job, stale_before, now, enqueue)
        if action:
            actions.append((job.id, action))
    return actions


def sweep_one(
    services: JobServices, job: Job, stale_before: datetime, now: datetime, enqueue: Callable[[str], object]
) -> str | None:
    """End, fail or re-queue one lost job; returns what was done (None when another sweeper won it)."""
    if job.cancel_requested:
        finalize_without_worker(services, job.id, JobStatus.CANCELED, "Canceled by an admin")
        return JobStatus.CANCELED
    mark = progress_mark(job.id)
    stalled = job.stalled_requeues + 1 if mark == job.progress_mark and job.requeues else 0
    if stalled > services.settings.max_stalled_requeues:
        reason = (
            f"The job was re-queued {job.stalled_requeues} times after its worker stopped, without "
            f"progress; giving up. Check the worker logs, then use Retry failed models."
        )
        finalize_without_worker(services, job.id, JobStatus.FAILED, reason)
        return JobStatus.FAILED
    previous = job.requeued_at
    claimed = rowcount(
        db.session.execute(
            update(Job)
            .where(
                Job.id == job.id,
                Job.status.in_(JOB_LIVE),
                func.coalesce(Job.heartbeat_at, Job.created_at) < stale_before,
                Job.requeued_at.is_(None) if previous is None else Job.requeued_at == previous,
            )
            .values(requeues=Job.requeues + 1, stalled_requeues=stalled, progress_mark=mark, requeued_at=now)
        )
    )
    db.session.commit()
    if claimed != 1:  # another sweeper won this job: it re-queued it, not us
        return None
    enqueue(job.id)
    log.info("job=%s preset=%s requeued after a stale heartbeat (stalled=%s)", job.id, job.preset_id, stalled)
    return "requeued"


def finalize_without_worker(services: JobServices, job_id: str, status: str, reason: str) -> None:
    """End a job no worker is running: cancel its predictions at Replicate and record what each cost
    (canceled or failed alike: no worker will wait for them), close open items (which releases the job's
    reservation), settle usage, write the final record. Items without a prediction cost nothing."""
    job = db.session.get(Job, job_id)
    if job is None:  # deleted with its preset meanwhile: nothing left to end
        return
    items = list(job.items)
    item_state = ItemState.CANCELED if status == JobStatus.CANCELED else ItemState.FAILED
    ledger = JobLedger.of(services.settings, job)
    for item in items:
        if item.state in ITEM_OPEN:
            if item.prediction_id:  # stop what no worker will wait for, and record what it cost
                ledger.stopped(item.id, item.model_id, cancel_prediction(services, item.prediction_id, job.offline))
            item.state, item.error = item_state, reason if status == JobStatus.FAILED else "canceled by an admin"
    writes_for(job).settle(items)
    job.status, job.error, job.finished_at, job.lease_owner = status, reason, utcnow(), None
    job.done = sum(1 for i in items if i.state == ItemState.SUCCEEDED)
    job.failed = sum(1 for i in items if i.state == ItemState.FAILED)
    db.session.commit()
    log.info("job=%s preset=%s %s without a worker: %s", job.id, job.preset_id, status, reason)
    write_final_record(services, job)


def write_final_record(services: JobServices, job: Job) -> None:
    """The job's final progress record, from its rows; examples already listed live stay listed."""
    record = ProgressRecord.from_job(job, updated_at=utcnow())
    try:
        previous = read_record(services.progress, job.id)
        record.examples = previous.examples if previous else []
        services.progress.write(job.id, record.as_json(), finished=True)
    except Exception as exc:
        log.warning("job=%s final progress not written: %s", job.id, exc)


def cancel_prediction(services: JobServices, prediction_id: str, offline: bool) -> Ending | None:
    """Stop a prediction at Replicate; how it ended, when Replicate said (None offline: nothing billed)."""
    return None if offline else services.generator(offline=False).cancel(prediction_id)


def request_cancel(services: JobServices, job_id: str) -> str:
    """Cancel a job: a queued one ends at once, a running one is stopped by its worker."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise CancelError(f"No job with id {job_id!r}.", 404)
    if job.status not in JOB_LIVE:
        raise CancelError(f"Job {job_id} has already ended ({job.status}); there is nothing to cancel.")
    ended = rowcount(
        db.session.execute(  # claim it like a worker would, so none can start it meanwhile
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.QUEUED, Job.lease_owner.is_(None))
            .values(cancel_requested=True, status=JobStatus.RUNNING, lease_owner="admin-cancel", heartbeat_at=utcnow())
        )
    )
    if ended:  # never started: no worker will see it, so end it here
        db.session.commit()
        finalize_without_worker(services, job_id, JobStatus.CANCELED, "Canceled by an admin before it started")
        return JobStatus.CANCELED
    db.session.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))
    db.session.commit()
    return "cancel requested"
