"""Requesting a generation: validate, pick and reserve models, create the job, queue it.

This is the request side shared by every caller (JSON API, browser form, CLI); how the
answer is shaped is left to them. Models are chosen here, before queuing, so the caller
learns at once which models the job got or that none are left.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from app.core.database import db
from app.core.errors import GenerationError
from app.jobs.needs import JobServices
from app.jobs.outcome import Rerun
from app.models import GalleryExample, ItemState, Job, JobItem, JobStatus, Preset, PresetModelUsage, UsageState
from app.pool.registry import ReferenceModel, Registry
from app.pool.release import holding_job
from app.pool.selection import (
    NoModelsLeft,
    Selection,
    lock_preset,
    reserve_chosen_models,
    reserve_for_retry,
    select_models_for_preset,
)
from app.presets.rules import provider_problem, settings_problem
from app.spend import ledger

log = logging.getLogger(__name__)

MODELS_PER_JOB = 20
MAX_EXAMPLES_PER_MODEL = 4
RETRIABLE = (JobStatus.PARTIAL, JobStatus.FAILED, JobStatus.CANCELED)  # ended with items that got no example
MAX_MODEL_IDS = 1000  # the registry's own size is checked under the lock


@dataclass
class GenerationRequest:
    examples_per_model: int = 1
    model_ids: list[str] | None = None  # chosen by hand; None: 10 + 10 at random


def parse_generation_request(body: Any) -> GenerationRequest:
    """`{"examplesPerModel": 1–4, "modelIds": [ids]}`, both optional. Whether each id can be chosen is
    decided under the preset's lock (`selection.reserve_chosen_models`); here only the shape is checked."""
    if body is None:
        return GenerationRequest()
    if not isinstance(body, dict):
        raise GenerationError('The request body must be a JSON object such as {"examplesPerModel": 1}.')
    unknown = set(body) - {"examplesPerModel", "modelIds"}
    if unknown:
        raise GenerationError(
            f"Unknown field(s): {', '.join(sorted(unknown))}. Only examplesPerModel and modelIds are accepted."
        )
    value = body.get("examplesPerModel", 1)
    if isinstance(value, bool) or not isinstance(value, int):
        raise GenerationError(
            f"examplesPerModel must be a whole number from 1 to {MAX_EXAMPLES_PER_MODEL}, got {value!r}."
        )
    if not 1 <= value <= MAX_EXAMPLES_PER_MODEL:
        raise GenerationError(f"examplesPerModel must be between 1 and {MAX_EXAMPLES_PER_MODEL}, got {value}.")
    return GenerationRequest(value, parse_model_ids(body["modelIds"]) if "modelIds" in body else None)


def parse_model_ids(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise GenerationError('modelIds must be a non-empty list of model ids, e.g. ["male_01", "female_07"].')
    if len(value) > MAX_MODEL_IDS:
        raise GenerationError(f"modelIds names {len(value)} models; at most {MAX_MODEL_IDS} are accepted.")
    bad = [v for v in value if not isinstance(v, str) or not 0 < len(v) <= 64]
    if bad:
        raise GenerationError(f"modelIds must hold model ids (text of 1 to 64 characters); got {bad[0]!r}.")
    return list(value)


@dataclass
class QueuedJob:
    job: Job
    selection: Selection
    rerun: Rerun | None = None  # a retry: the items of the job it retries, by how they ended

    @property
    def retry_message(self) -> str:
        """ "Retrying 40 canceled items of 20 models" (a retry only)."""
        what = self.rerun.items_text if self.rerun else f"{self.job.total} items"
        return f"Retrying {what} of {len(self.selection.models)} models"

    @property
    def message(self) -> str:
        text = f'Example generation job queued for preset "{self.job.preset.name}"'
        if self.job.offline:
            text += " (offline mode: placeholder images, nothing is sent to Replicate)"
        return text


Pair = tuple[ReferenceModel, int]  # a (model, example index) item of a job


def request_generation(
    services: JobServices,
    preset_id: str,
    examples_per_model: int,
    *,
    rng: random.Random | None = None,
    model_ids: list[str] | None = None,
    items: list[Pair] | None = None,
    retry_of: str | None = None,
    regenerate_of: str | None = None,
    created_by: str | None = None,
) -> QueuedJob:
    """Reserve models (10 + 10 at random, exactly `model_ids`, or the `items` of a retry or a regenerate), create
    the job and its items, commit, queue it. `created_by`: see `Origin`."""

    def pick(preset_id: str, job_id: str) -> tuple[Selection, list[Pair]]:
        if items is not None:
            unique = list({m.id: m for m, _ in items}.values())
            return reserve_for_retry(preset_id, unique, job_id=job_id), items
        if model_ids is not None:
            selection = reserve_chosen_models(preset_id, services.registry(), model_ids, job_id=job_id)
        else:
            selection = select_models_for_preset(preset_id, services.registry(), MODELS_PER_JOB, job_id=job_id, rng=rng)
        return selection, [(m, i) for m in selection.models for i in range(examples_per_model)]

    try:
        origin = Origin(retry_of, regenerate_of, created_by)
        job, selection = create_job(services, preset_id, examples_per_model, pick, origin)
        job_id = job.id
        db.session.commit()
    except GenerationError:
        db.session.rollback()
        raise
    except NoModelsLeft as exc:
        db.session.rollback()
        raise GenerationError(str(exc), 409) from None
    except OperationalError as exc:
        db.session.rollback()
        raise database_unavailable(exc, "requesting a generation") from None
    except Exception:
        db.session.rollback()
        raise
    enqueue(services, job_id)
    return QueuedJob(job, selection)


@dataclass(frozen=True)
class Origin:
    """Why a job exists besides a plain generate: the job it retries or the example it regenerates, and
    who asked (an admin's email, "token NAME", "cli USER")."""

    retry_of: str | None = None
    regenerate_of: str | None = None
    created_by: str | None = None


def create_job(
    services: JobServices,
    preset_id: str,
    examples_per_model: int,
    pick: Callable[[str, str], tuple[Selection, list[Pair]]],
    origin: Origin,
) -> tuple[Job, Selection]:
    """The job, its items and its models' reservations, flushed under the preset's lock (not committed)."""
    preset = lock_preset(preset_id)
    if preset is None:
        raise GenerationError(f"No preset with id {preset_id!r}.", 404)
    refuse_unrunnable(preset)
    if origin.retry_of:
        refuse_second_retry(origin.retry_of)
    if origin.regenerate_of:
        refuse_busy_example(preset.id, origin.regenerate_of)
    job = Job(
        preset_id=preset.id,
        examples_per_model=examples_per_model,
        prompt=preset.prompt,
        provider=preset.provider,
        settings=dict(preset.settings or {}),
        offline=services.settings.offline,
        status=JobStatus.QUEUED,
        retry_of=origin.retry_of,
        regenerate_of=origin.regenerate_of,
        created_by=(origin.created_by or "")[:200] or None,
    )
    db.session.add(job)
    db.session.flush()
    selection, pairs = pick(preset.id, job.id)
    db.session.add_all(
        JobItem(job_id=job.id, model_id=m.id, gender=m.gender, reference_url=m.s3_url, example_index=i)
        for m, i in pairs
    )
    job.total = len(pairs)
    ledger.reserve(services.settings, job, len(pairs))
    return job, selection


def database_unavailable(exc: OperationalError, doing: str) -> GenerationError:
    """The 503 a start answers when the database went away mid-write (the caller has rolled back: nothing queued)."""
    log.warning("database unavailable while %s: %s", doing, exc.__class__.__name__)
    return GenerationError("The database is unavailable right now; nothing was queued. Try again shortly.", 503)


def refuse_unrunnable(preset: Preset) -> None:
    """A 409 before anything is reserved: the preset's provider is retired (or gone), or its model refuses its
    settings today."""
    unavailable = provider_problem(preset)
    if unavailable:
        raise GenerationError(f'Preset "{preset.name}" cannot generate: {unavailable}. Nothing was queued.', 409)
    problem = settings_problem(preset)
    if problem:
        raise GenerationError(
            f'Preset "{preset.name}" has settings its model no longer accepts: {problem}. '
            "Edit the preset's settings; nothing was queued.",
            409,
        )


def refuse_second_retry(job_id: str) -> None:
    """One retry per job (under the preset's lock, so a double click cannot make the items twice)."""
    earlier = db.session.scalar(select(Job.id).where(Job.retry_of == job_id).limit(1))
    if earlier:
        raise GenerationError(
            f"Job {job_id} has already been retried by job {earlier}; retry that job if it has failed items.", 409
        )


def refuse_busy_example(preset_id: str, example_id: str) -> None:
    """A regenerate waits until no other job of the preset works on the example's model (under the preset's
    lock, so two clicks cannot make it twice); an example gone meanwhile is a 404."""
    example = db.session.get(GalleryExample, example_id)
    if example is None or example.preset_id != preset_id:
        raise GenerationError(f"No example {example_id!r} in this preset's gallery.", 404)
    holding = holding_job(preset_id, example.model_id)
    if holding:
        raise GenerationError(
            f"Job {holding} of this preset is still working on model {example.model_id}; "
            "regenerate this example once that job has ended. Nothing was queued.",
            409,
        )


def enqueue(services: JobServices, job_id: str) -> None:
    """Queue a committed job; when the queue is down, undo it so nothing is left half-written."""
    try:
        services.enqueue_job(job_id)  # job.id would reload the row and, on SQLite, hold the write lock
    except Exception as exc:
        log.warning("could not queue job %s: %s", job_id, exc)
        db.session.rollback()
        discard_job(job_id)
        raise GenerationError(
            "The job queue (Redis) is unavailable right now; nothing was queued. Try again shortly.", 503
        ) from None


def discard_job(job_id: str) -> None:
    """Remove a job that never reached the queue, with its items and reservations."""
    try:
        db.session.query(PresetModelUsage).filter_by(job_id=job_id, state=UsageState.RESERVED).delete()
        db.session.query(JobItem).filter_by(job_id=job_id).delete()
        db.session.query(Job).filter_by(id=job_id).delete()
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not discard unqueued job %s", job_id)


def rerun_items(job: Job, registry: Registry) -> tuple[list[Pair], Rerun]:
    """The (model, example index) items of a job that got no example, and how they ended (what the retry
    button and the API's answer name). Items of a model gone from models.json cannot be rerun."""
    rerun = [(model, i) for i in job.items if i.state != ItemState.SUCCEEDED and (model := registry.get(i.model_id))]
    failed = sum(1 for model, i in rerun if i.state == ItemState.FAILED)
    return [(model, i.example_index) for model, i in rerun], Rerun(failed, len(rerun) - failed)


def request_retry_of_failed(services: JobServices, job_id: str, created_by: str | None = None) -> QueuedJob:
    """A follow-up job for exactly the (model, example index) items of `job_id` that got no example (failed or
    canceled), whatever examplesPerModel was; its models are reused whether or not they are free."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise GenerationError(f"No job with id {job_id!r}.", 404)
    if job.comparison_id:
        raise GenerationError(
            f"Job {job_id} is one column of comparison {job.comparison_id}: its cells are not gallery examples, so it "
            "cannot be retried into the gallery. Start a new comparison to try its variant again.",
            409,
        )
    if job.status not in RETRIABLE:
        raise GenerationError(
            f"Job {job_id} is {job.status}; only a finished job with failed or canceled items can be retried.", 409
        )
    pairs, rerun = rerun_items(job, services.registry())
    if not pairs:
        raise GenerationError(f"Job {job_id} has no failed or canceled items to retry.", 409)
    queued = request_generation(
        services, job.preset_id, job.examples_per_model, items=pairs, retry_of=job_id, created_by=created_by
    )
    queued.rerun = rerun
    return queued
