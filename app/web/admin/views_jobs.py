"""Jobs: the recent jobs, one job's per-model outcome, and the route of the live progress fragment (`progress_fragment`
renders it), cancel and retry."""

from __future__ import annotations

import logging
import re

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from app import provider_rows
from app.core.database import db
from app.core.errors import CancelError, GenerationError
from app.jobs.cancel import cancel_job
from app.jobs.submit import RETRIABLE, request_retry_of_failed, rerun_items
from app.models import PROVIDER_KEY_LENGTH, Job, Preset, SpendEntry, iso, utcnow
from app.services import CONSUMER_COMMAND
from app.spend import ledger
from app.web.admin.common import (
    services,
    worker_missing,
)
from app.web.admin.progress_fragment import (
    STOP_POLLING,
    VIEWS,
    progress_from_job,
    progress_from_record,
    progress_response,
    read_record,
    render_progress,
)
from app.web.auth import local_admin_path

log = logging.getLogger(__name__)
KEY_PATTERN = re.compile(rf"^[A-Z][A-Z0-9_]{{0,{PROVIDER_KEY_LENGTH - 1}}}$")  # a provider key's shape: no query

bp = Blueprint("admin_jobs", __name__, url_prefix="/admin/jobs")

RECENT_JOBS = 50


@bp.get("/<id:job_id>/progress")
def progress(job_id: str) -> ResponseReturnValue:
    """The polled fragment. While the job runs: the progress record only, no SQL."""
    view = request.args.get("view") or "preset"
    view = view if view in VIEWS else "preset"
    provider = request.args.get("provider") if KEY_PATTERN.match(request.args.get("provider") or "") else None
    shown = max(0, request.args.get("shown", 0, type=int) or 0)
    base = request.args.get("base", type=int)
    html, ended = progress_response(job_id, shown, provider, view, base if base is None or base >= 0 else None)
    if not ended:
        return html, 200
    # the job page shows its final per-model table from the rows: reload it once the job is over
    return html, STOP_POLLING, {"HX-Refresh": "true"} if view == "job" else {}


def back_to(job_id: str) -> Response:
    """Where a cancel or retry form came from: the preset page or the job page (never elsewhere)."""
    target = local_admin_path(request.form.get("next"))
    if target:
        return redirect(target, 303)
    return redirect(url_for("admin_jobs.job", job_id=job_id), 303)


@bp.post("/<id:job_id>/cancel")
def cancel(job_id: str) -> ResponseReturnValue:
    """Same operation as POST /api/admin/jobs/<id>/cancel."""
    try:
        flash(cancel_job(services(), job_id, g.actor).message, "success")
    except CancelError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return back_to(job_id)


@bp.post("/<id:job_id>/retry")
def retry(job_id: str) -> ResponseReturnValue:
    """A follow-up job for exactly the models of this job that failed."""
    try:
        queued = request_retry_of_failed(services(), job_id, created_by=g.actor)
    except GenerationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin_jobs.job", job_id=job_id), 303)
    flash(f"{queued.retry_message} in a new job.", "success")
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
def jobs() -> ResponseReturnValue:
    rows = db.session.scalars(
        select(Job).options(joinedload(Job.preset)).order_by(Job.created_at.desc()).limit(RECENT_JOBS)
    ).all()
    waiting = any(worker_missing(j.status, j.created_at, j.heartbeat_at or j.created_at) for j in rows if j.is_live)
    return render_template(
        "admin/jobs.html",
        jobs=rows,
        spends=ledger.totals_by(SpendEntry.job_id, [j.id for j in rows]),  # one query for the whole list
        now=utcnow(),
        worker_missing=waiting,
        worker_command=CONSUMER_COMMAND,
        account=account_usage(),
        spend=ledger.month_json(services().settings),
    )


@bp.get("/<id:job_id>")
def job(job_id: str) -> ResponseReturnValue:
    job = db.session.get(Job, job_id)
    if job is None:
        abort(404, f"No job with id {job_id!r}: it may have been deleted with its preset.")
    preset = db.session.get(Preset, job.preset_id)
    progress_html = None
    if job.is_live:
        record, _ = read_record(job.id)
        state = progress_from_record(record) if record else progress_from_job(job)
        progress_html = render_progress(state, shown=0, provider=job.provider, view="job")
    costs = ledger.item_spend(job.id)
    rerun = rerun_items(job, services().registry())[1] if job.status in RETRIABLE else None
    return render_template(
        "admin/job.html",
        job=job,
        costs=costs,
        spent=sum(costs.values(), ledger.ZERO) if costs else None,
        preset=preset,
        progress_html=progress_html,
        rerun=rerun,
        provider=provider_rows.find(job.provider),
        now=utcnow(),
        iso=iso,
    )
