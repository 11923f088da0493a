"""The live progress fragment, polled every second while a job runs, as the preset page, the job page and a
just-queued job (generate, regenerate) show it.

It reads only the job's progress record (Redis, or the embedded store): examples that landed since the last poll
come from the record and are added to the gallery out of band. Only a job with no record yet (still queued) or
no record any more is looked up in the database. When the job has ended the answer is HTTP 286, which tells htmx
to stop polling.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flask import render_template, url_for

from app.core.database import db
from app.core.iso_time import parse_naive_utc
from app.gallery.query import gallery_counts
from app.jobs.progress import ProgressRecord
from app.jobs.progress import read_record as progress_record
from app.models import JOB_FINAL, ItemState, Job
from app.services import CONSUMER_COMMAND
from app.web.admin.cards import card_of_record, view_url_template
from app.web.admin.common import (
    Pool,
    gallery_count,
    model_pool,
    services,
    worker_missing,
)

log = logging.getLogger(__name__)
STOP_POLLING = 286  # htmx's "stop polling"
VIEWS = ("preset", "job")


def read_record(job_id: str) -> tuple[ProgressRecord | None, bool]:
    """The job's progress record and whether the store answered at all."""
    try:
        return progress_record(services().progress, job_id), True
    except Exception as exc:  # the store is a mirror: fall back to the rows
        log.warning("progress store unavailable for job %s: %s", job_id, exc)
        return None, False


def progress_from_record(record: ProgressRecord) -> dict:
    """What the progress fragment shows of a record."""
    return {
        "job_id": record.job_id,
        "preset_id": record.preset_id,
        "status": record.status,
        "percent": int(record.percent or 0),
        "stage": record.stage,
        "message": record.message,
        "done": record.done,
        "failed": record.failed,
        "canceled": record.canceled,
        "total": record.total,
        "offline": record.offline,
        "items": record.items,
        "failures": [i for i in record.items if i.get("state") == ItemState.FAILED],
        "examples": record.examples,
        "created_by": record.created_by,
        "worker_missing": worker_missing(
            record.status, parse_naive_utc(record.created_at), parse_naive_utc(record.updated_at)
        ),
    }


def progress_from_job(job: Job) -> dict:
    """A job with no (fresh) progress record: still queued, its worker gone, or its record expired."""
    return progress_from_record(ProgressRecord.from_job(job))


def poll_url(job_id: str, shown: int, provider: str | None, view: str, base: int | None) -> str:
    return url_for("admin_jobs.progress", job_id=job_id, shown=shown, provider=provider or None, view=view, base=base)


def render_progress(
    progress: dict,
    *,
    shown: int,
    provider: str | None,
    view: str,
    new_examples: Sequence[dict] = (),
    oob_pool: Pool | None = None,
    base: int | None = None,
) -> str:
    """`base`: how many gallery examples the preset had besides this job's (kept in the poll's address). When
    examples land (or the job ends on the preset page) the gallery's counts come along, read from the rows (one
    grouped query), so they equal the API's at every poll."""
    ended = progress["status"] in JOB_FINAL
    counts = None
    if view == "preset" and (new_examples or (ended and base is not None)):
        counts = gallery_counts(progress["preset_id"])
    view_url = view_url_template(progress["preset_id"])
    return render_template(
        "admin/_progress.html",
        p=progress,
        ended=ended,
        view=view,
        poll_url=poll_url(progress["job_id"], shown, provider, view, base),
        new_examples=[card_of_record(e, view_url, provider or "") for e in new_examples],
        worker_command=CONSUMER_COMMAND,
        oob_pool=oob_pool,
        counts=counts,
        counts_oob=True,
        preset_id=progress["preset_id"],
    )


def progress_response(
    job_id: str, shown: int, provider: str | None, view: str, base: int | None = None
) -> tuple[str, bool]:
    """The fragment's HTML and whether the job has ended (None for the HTML: the job is gone)."""
    record, _ = read_record(job_id)
    if record is not None and record.is_stale(services().settings.job_stale_seconds):
        record = None  # its worker died or its last write was lost: the rows know better
    if record is not None:
        state = progress_from_record(record)
        new_examples = state["examples"][shown:] if view == "preset" else []
        shown = max(shown, len(state["examples"]))
    else:
        job = db.session.get(Job, job_id)
        if job is None:
            return render_template("admin/_progress_gone.html", job_id=job_id), True
        state, new_examples = progress_from_job(job), []
    ended = state["status"] in JOB_FINAL
    oob_pool = None
    if ended and view == "preset":
        # the job is over: one last look at the database refreshes the pool picture and the counts
        oob_pool, base = model_pool(state["preset_id"]), base if base is not None else 0
    html = render_progress(
        state,
        shown=shown,
        provider=provider,
        view=view,
        new_examples=new_examples,
        oob_pool=oob_pool,
        base=base,
    )
    return html, ended


def queued_fragment(preset_id: str, job: Job, message: str, warning: str | None) -> tuple[str, int]:
    """What the generate panel shows for a job just queued (generate, regenerate): its live progress, the
    message, and the pool with the models it now holds (none left to show once the job has ended)."""
    body, ended = progress_response(job.id, 0, job.provider, "preset", gallery_count(preset_id, exclude_job=job.id))
    extra = render_template(
        "admin/_generate_queued.html",
        pool=None if ended else model_pool(preset_id),
        preset_id=preset_id,
        message=message,
        warning=warning,
    )
    return body + extra, 200
