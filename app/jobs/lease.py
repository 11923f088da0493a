"""A job's lease: one worker at a time runs a job, and a worker that dies lets go by going quiet.

The lease is two columns on the job row (`lease_owner`, `heartbeat_at`) taken with one atomic
UPDATE, so two workers that receive the same job (a Huey retry racing the lost-job sweep) cannot
both run it. The holder keeps `heartbeat_at` fresh; a lease whose heartbeat is older than
`JOB_STALE_SECONDS` may be taken over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from sqlalchemy import func, or_, update

from app.core.database import db, rowcount
from app.models import JOB_LIVE, Job, JobStatus, utcnow

log = logging.getLogger("app.pipeline")


class LeaseLost(Exception):
    """Another worker took the job over (this one's heartbeat went stale): stop without finishing it."""


class Lease:
    def __init__(self, job_id: str, stale_seconds: float) -> None:
        self.job_id = job_id
        self.stale_seconds = stale_seconds
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"

    def take(self) -> bool:
        """Claim the job for this worker unless a live worker holds it (its heartbeat is fresh)."""
        now = utcnow()
        stale_before = now - timedelta(seconds=self.stale_seconds)
        claimed = rowcount(
            db.session.execute(
                update(Job)
                .where(
                    Job.id == self.job_id,
                    Job.status.in_(JOB_LIVE),
                    or_(Job.lease_owner.is_(None), Job.heartbeat_at.is_(None), Job.heartbeat_at < stale_before),
                )
                .values(
                    lease_owner=self.worker,
                    heartbeat_at=now,
                    status=JobStatus.RUNNING,
                    attempts=Job.attempts + 1,
                    started_at=func.coalesce(Job.started_at, now),
                )
            )
        )
        db.session.commit()
        return claimed == 1

    def beat(self) -> bool:
        """Keep the lease fresh; returns True when an admin asked to cancel the job."""
        row = db.session.execute(
            update(Job)
            .where(Job.id == self.job_id, Job.lease_owner == self.worker)
            .values(heartbeat_at=utcnow())
            .returning(Job.cancel_requested)
        ).first()
        db.session.commit()
        if row is None:
            raise LeaseLost(f"job {self.job_id} was taken over by another worker after this one went quiet")
        return bool(row[0])

    def release(self) -> None:
        try:
            db.session.rollback()
            db.session.execute(
                update(Job).where(Job.id == self.job_id, Job.lease_owner == self.worker).values(lease_owner=None)
            )
            db.session.commit()
        except Exception as exc:  # database gone: the lease simply goes stale
            log.warning("job=%s lease not released: %s", self.job_id, exc)
