"""Helpers shared by the admin blueprints: model pool, gallery cards and count, worker liveness, htmx answers."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, NoReturn, cast

from flask import abort, render_template, request, url_for
from sqlalchemy import func, or_, select

from app.core.database import db
from app.jobs.submit import MODELS_PER_JOB
from app.models import GalleryExample, JobStatus, Preset, utcnow
from app.pool.reference_photos import SAFE_MODEL_ID, photo_url, thumbnail_url
from app.pool.selection import Holders, holders_of
from app.web.context import services

log = logging.getLogger(__name__)

QUEUED_GRACE_SECONDS = 5  # a queued job older than this with no consumer alive: say so
RUNNING_STALE_SECONDS = 30  # a running job whose progress stopped moving this long


def is_htmx() -> bool:
    """htmx-flask's `request.htmx` (truthy for htmx requests), history restores excepted: they want a page."""
    htmx = cast(Any, request).htmx  # added by htmx-flask, which ships no types
    return bool(htmx) and not htmx.history_restore_request


def fragment(template: str, status: int = 200, headers: dict | None = None, **context: Any) -> tuple[str, int, dict]:
    return render_template(template, **context), status, headers or {}


# -- model pool ----------------------------------------------------------------
@dataclass
class Pool:
    cells: list[tuple[str, str, str]]  # (model id, gender, used|reserved|free)
    preset_id: str = ""
    holders: Holders = field(default_factory=Holders)

    @cached_property
    def tally(self) -> Counter[tuple[str, str]]:
        """How many models of each (gender, state): the page asks for these counts many times over."""
        return Counter((gender, state) for _model, gender, state in self.cells)

    def count(self, state: str) -> int:
        return sum(n for (_gender, counted), n in self.tally.items() if counted == state)

    def free(self, gender: str) -> int:
        return self.tally[(gender, "free")]

    @property
    def total(self) -> int:
        return len(self.cells)

    @property
    def models_next_job(self) -> int:
        """How many models the next job would get (half male, half female, as selection picks them)."""
        male = MODELS_PER_JOB // 2
        return min(male, self.free("male")) + min(MODELS_PER_JOB - male, self.free("female"))

    def detail(self, model_id: str) -> str:
        """free / reserved by job X / used on date, as the pool's list says it."""
        if model_id in self.holders.reserved:
            return f"reserved by job {self.holders.reserved[model_id] or '?'}"
        if model_id in self.holders.used:
            return f"used {self.holders.used[model_id]:%Y-%m-%d}"
        return "free"


def model_pool(preset_id: str) -> Pool:
    holders = holders_of(preset_id)
    states = dict.fromkeys(holders.used, "used") | dict.fromkeys(holders.reserved, "reserved")
    registry = services().registry()
    cells = [(m.id, m.gender, states.get(m.id, "free")) for m in registry.all if not m.retired or m.id in states]
    return Pool(cells, preset_id, holders)  # a retired model shows only where it was used


# -- gallery -------------------------------------------------------------------
def reference_thumb(model_id: str, full: bool = False) -> str | None:
    """A card's reference image (`full`: the side-by-side view's photo): the cached one, or offline the
    labelled placeholder (None online while it is not cached: the card says so; `flask models cache` fixes it)."""
    storage = services().storage
    cached = photo_url(storage, model_id) if full else thumbnail_url(storage, model_id)
    if cached or not services().settings.offline or not SAFE_MODEL_ID.match(model_id):
        return cached
    return url_for("admin_references.placeholder", model_id=model_id)


def gallery_count(preset_id: str, exclude_job: str | None = None) -> int:
    query = select(func.count()).select_from(GalleryExample).where(GalleryExample.preset_id == preset_id)
    if exclude_job:
        query = query.where(or_(GalleryExample.job_id.is_(None), GalleryExample.job_id != exclude_job))
    return db.session.scalar(query) or 0


# -- worker liveness -------------------------------------------------------------
def consumers_alive() -> bool | None:
    """True/False, or None when the progress store cannot tell (then we say nothing)."""
    try:
        return bool(services().progress.alive())
    except Exception as exc:
        log.warning("could not read consumer heartbeats: %s", exc)
        return None


def worker_missing(status: str, created_at: datetime | None, updated_at: datetime | None = None) -> bool:
    """A job waits with no consumer to run it: queued for a few seconds, or running with frozen progress."""
    now = utcnow()
    waiting = (
        status == JobStatus.QUEUED
        and created_at is not None
        and (now - created_at).total_seconds() > QUEUED_GRACE_SECONDS
    ) or (
        status == JobStatus.RUNNING
        and updated_at is not None
        and (now - updated_at).total_seconds() > RUNNING_STALE_SECONDS
    )
    return waiting and consumers_alive() is False


def get_preset(preset_id: str) -> Preset:
    preset = db.session.get(Preset, preset_id)
    if preset is None:
        no_preset(preset_id)
    return preset


def no_preset(preset_id: str) -> NoReturn:
    abort(404, f"No preset with id {preset_id!r}: it may have been deleted.")
