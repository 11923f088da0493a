"""Canceling a comparison: each of its jobs still running is canceled like any job (its predictions in flight are
stopped and what they cost goes to the ledger, tagged to the comparison); the comparison keeps what it made."""

from __future__ import annotations

from app.accounts.audit import record
from app.core.database import db
from app.core.errors import CancelError
from app.jobs.needs import JobServices
from app.jobs.recovery import request_cancel
from app.models import JOB_LIVE, Comparison, Job, utcnow


def cancel_comparison(services: JobServices, comparison_id: str, actor: str | None) -> str:
    """Cancel its live jobs and record who did; a CancelError (404 unknown, 409 ended) changes nothing.
    Returns the message to show."""
    comparison = db.session.get(Comparison, comparison_id)
    if comparison is None:
        raise CancelError(f"No comparison with id {comparison_id!r}.", 404)
    live = [
        v.job_id
        for v in comparison.variants
        if v.job_id and (job := db.session.get(Job, v.job_id)) is not None and job.status in JOB_LIVE
    ]
    if not live:
        raise CancelError(f"Comparison {comparison_id} has already ended; there is nothing to cancel.")
    comparison.canceled_at, comparison.canceled_by = utcnow(), (actor or "")[:200] or None
    preset_id = comparison.preset_id
    record(actor, "comparison.cancel", f"comparison {comparison_id}", preset_id=preset_id, subjects=[comparison_id])
    db.session.commit()
    for job_id in live:
        try:
            request_cancel(services, job_id)
        except CancelError:
            pass  # it ended meanwhile
    return "Comparison canceled: its running predictions are being stopped; what they cost is recorded."
