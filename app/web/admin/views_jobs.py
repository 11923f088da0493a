"""Jobs: the recent jobs, one job's per-model outcome, and the live progress fragment.

The fragment is polled every second while a job runs. It reads only the job's progress
record (Redis, or the embedded store): examples that landed since the last poll come
from the record and are added to the gallery out of band. Only a job with no record
yet (still queued) or no record any more is looked up in the database. When the job
has ended the answer is HTTP 286, which tells htmx to stop polling.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import spend
from app.audit import record
from app.database import db
from app.errors import CancelError, GenerationError
from app.generation.progress import ProgressRecord
from app.generation.progress import read_record as progress_record
from app.generation.recovery import request_cancel
from app.generation.submit import request_retry_of_failed
from app.models import JOB_FINAL, ItemState, Job, JobStatus, Preset, SpendEntry, iso, utcnow
from app.providers.catalog import PROVIDERS
from app.web.admin.common import (
    WORKER_COMMAND,
    gallery_count,
    model_pool,
    parse_iso,
    record_card,
    services,
    worker_missing,
)
from app.web.auth import local_admin_path

log = logging.getLogger(__name__)
bp = Blueprint("admin_jobs", __name__, url_prefix="/admin/jobs")

STOP_POLLING = 286
RECENT_JOBS = 50
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
        "total": record.total,
        "offline": record.offline,
        "items": record.items,
        "failures": [i for i in record.items if i.get("state") == ItemState.FAILED],
        "examples": record.examples,
        "created_by": record.created_by,
        "worker_missing": worker_missing(record.status, parse_iso(record.created_at), parse_iso(record.updated_at)),
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
    new_examples=(),
    oob_pool=None,
    oob_count=None,
    base: int | None = None,
):
    """`base`: how many gallery examples the preset had besides this job's, so the count can follow."""
    ended = progress["status"] in JOB_FINAL
    if oob_count is None and new_examples and base is not None:
        oob_count = base + len(progress["examples"])
    return render_template(
        "admin/_progress.html",
        p=progress,
        ended=ended,
        view=view,
        poll_url=poll_url(progress["job_id"], shown, provider, view, base),
        new_examples=[
            record_card(e, progress["preset_id"], provider or "", progress.get("created_by")) for e in new_examples
        ],
        worker_command=WORKER_COMMAND,
        oob_pool=oob_pool,
        oob_count=oob_count,
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
    oob_pool = oob_count = None
    if ended and view == "preset":
        # the job is over: one last look at the database refreshes the pool picture and the count
        oob_pool, oob_count = model_pool(state["preset_id"]), gallery_count(state["preset_id"])
    html = render_progress(
        state,
        shown=shown,
        provider=provider,
        view=view,
        new_examples=new_examples,
        oob_pool=oob_pool,
        oob_count=oob_count,
        base=base,
    )
    return html, ended


@bp.get("/<id:job_id>/progress")
def progress(job_id: str):
    """The polled fragment. While the job runs: the progress record only, no SQL."""
    view = request.args.get("view") or "preset"
    view = view if view in VIEWS else "preset"
    provider = request.args.get("provider") if request.args.get("provider") in PROVIDERS else None
    shown = max(0, request.args.get("shown", 0, type=int) or 0)
    base = request.args.get("base", type=int)
    html, ended = progress_response(job_id, shown, provider, view, base if base is None or base >= 0 else None)
    if not ended:
        return html, 200
    # the job page shows its final per-model table from the rows: reload it once the job is over
    return html, STOP_POLLING, {"HX-Refresh": "true"} if view == "job" else {}


def back_to(job_id: str):
    """Where a cancel or retry form came from: the preset page or the job page (never elsewhere)."""
    target = local_admin_path(request.form.get("next"))
    if target:
        return redirect(target, 303)
    return redirect(url_for("admin_jobs.job", job_id=job_id), 303)


@bp.post("/<id:job_id>/cancel")
def cancel(job_id: str):
    """Same operation as POST /api/admin/jobs/<id>/cancel."""
    try:
        outcome = request_cancel(services(), job_id)
    except CancelError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return back_to(job_id)
    record(g.actor, "job.cancel", f"job {job_id}")
    db.session.commit()
    flash(
        "Job canceled."
        if outcome == JobStatus.CANCELED
        else "Cancel requested: the worker is canceling the predictions in flight.",
        "success",
    )
    return back_to(job_id)


@bp.post("/<id:job_id>/retry")
def retry(job_id: str):
    """A follow-up job for exactly the models of this job that failed."""
    try:
        queued = request_retry_of_failed(services(), job_id, created_by=g.actor)
    except GenerationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin_jobs.job", job_id=job_id), 303)
    flash(f"Retrying {queued.job.total} failed items of {len(queued.selection.models)} models in a new job.", "success")
    return redirect(url_for("admin_jobs.job", job_id=queued.job.id), 303)


def account_usage() -> dict | None:
    """Calls to Replicate in the last minute against the limits, and the 429s seen (None: store down)."""
    settings = services().settings
    try:
        usage = services().api_usage()
        counts = usage.summary()
    except Exception as exc:
        log.warning("Replicate account usage unavailable: %s", exc)
        return None
    return counts | {
        "create_limit": settings.create_rate_per_minute,
        "read_limit": settings.reads_per_minute,
        "shared": usage.shared,
        "offline": settings.offline,
    }


@bp.get("")
def jobs():
    rows = db.session.scalars(
        select(Job).options(joinedload(Job.preset)).order_by(Job.created_at.desc()).limit(RECENT_JOBS)
    ).all()
    waiting = any(worker_missing(j.status, j.created_at, j.heartbeat_at or j.created_at) for j in rows if j.is_live)
    return render_template(
        "admin/jobs.html",
        jobs=rows,
        spends=spend.totals_by(SpendEntry.job_id, [j.id for j in rows]),  # one query for the whole list
        now=utcnow(),
        worker_missing=waiting,
        worker_command=WORKER_COMMAND,
        account=account_usage(),
        spend=spend.month_json(services().settings),
    )


@bp.get("/<id:job_id>")
def job(job_id: str):
    job = db.session.get(Job, job_id)
    if job is None:
        abort(404, f"No job with id {job_id!r}: it may have been deleted with its preset.")
    preset = db.session.get(Preset, job.preset_id)
    progress_html = None
    if job.is_live:
        record, _ = read_record(job.id)
        state = progress_from_record(record) if record else progress_from_job(job)
        progress_html = render_progress(state, shown=0, provider=job.provider, view="job")
    costs = spend.item_spend(job.id)
    return render_template(
        "admin/job.html",
        job=job,
        costs=costs,
        spent=sum(costs.values(), spend.ZERO) if costs else None,
        preset=preset,
        progress_html=progress_html,
        provider=PROVIDERS.get(job.provider),
        now=utcnow(),
        iso=iso,
    )
