"""Requesting a generation: validate, pick and reserve models, create the job, queue it.

This is the request side shared by every caller (JSON API, browser form, CLI); how the
answer is shaped is left to them. Models are chosen here, before queuing, so the caller
learns at once which models the job got or that none are left.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ..database import db
from ..errors import GenerationError
from ..models import ItemState, Job, JobItem, JobStatus, PresetModelUsage, UsageState
from ..presets import settings_problem
from ..registry import ReferenceModel
from ..selection import NoModelsLeft, Selection, lock_preset, reserve_given_models, select_models_for_preset

log = logging.getLogger(__name__)

MODELS_PER_JOB = 20
MAX_EXAMPLES_PER_MODEL = 4


def parse_examples_per_model(body) -> int:
    """`examplesPerModel`: an integer from 1 to 4, default 1. Booleans, floats and strings are refused."""
    if body is None:
        return 1
    if not isinstance(body, dict):
        raise GenerationError('The request body must be a JSON object such as {"examplesPerModel": 1}.')
    unknown = set(body) - {"examplesPerModel"}
    if unknown:
        raise GenerationError(f"Unknown field(s): {', '.join(sorted(unknown))}. Only examplesPerModel is accepted.")
    value = body.get("examplesPerModel", 1)
    if isinstance(value, bool) or not isinstance(value, int):
        raise GenerationError(
            f"examplesPerModel must be a whole number from 1 to {MAX_EXAMPLES_PER_MODEL}, got {value!r}."
        )
    if not 1 <= value <= MAX_EXAMPLES_PER_MODEL:
        raise GenerationError(f"examplesPerModel must be between 1 and {MAX_EXAMPLES_PER_MODEL}, got {value}.")
    return value


@dataclass
class QueuedJob:
    job: Job
    selection: Selection

    @property
    def message(self) -> str:
        text = f'Example generation job queued for preset "{self.job.preset.name}"'
        if self.job.offline:
            text += " (offline mode: placeholder images, nothing is sent to Replicate)"
        return text


def request_generation(
    services,
    preset_id: str,
    examples_per_model: int,
    *,
    rng: random.Random | None = None,
    models: list[ReferenceModel] | None = None,
    retry_of: str | None = None,
    created_by: str | None = None,
) -> QueuedJob:
    """Reserve models (random ones, or exactly `models`), create the job and its items, commit, queue it.
    `created_by`: who asked (an admin's email, "token NAME", "cli USER"), shown with the job."""
    try:
        job, selection = create_job(services, preset_id, examples_per_model, rng, models, retry_of, created_by)
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
        log.warning("database unavailable while requesting a generation: %s", exc.__class__.__name__)
        raise GenerationError(
            "The database is unavailable right now; nothing was queued. Try again shortly.", 503
        ) from None
    except Exception:
        db.session.rollback()
        raise
    enqueue(services, job_id)
    return QueuedJob(job, selection)


def create_job(services, preset_id, examples_per_model, rng, models, retry_of, created_by) -> tuple[Job, Selection]:
    """The job, its items and its models' reservations, flushed under the preset's lock (not committed)."""
    preset = lock_preset(preset_id)
    if preset is None:
        raise GenerationError(f"No preset with id {preset_id!r}.", 404)
    problem = settings_problem(preset)
    if problem:
        raise GenerationError(
            f'Preset "{preset.name}" has settings its model no longer accepts: {problem}. '
            "Edit the preset's settings; nothing was queued.",
            409,
        )
    job = Job(
        preset_id=preset.id,
        examples_per_model=examples_per_model,
        prompt=preset.prompt,
        provider=preset.provider,
        settings=dict(preset.settings or {}),
        offline=services.settings.offline,
        status=JobStatus.QUEUED,
        retry_of=retry_of,
        created_by=(created_by or "")[:200] or None,
    )
    db.session.add(job)
    db.session.flush()
    if models is None:
        selection = select_models_for_preset(preset.id, services.registry(), MODELS_PER_JOB, job_id=job.id, rng=rng)
    else:
        selection = reserve_given_models(preset.id, models, job_id=job.id)
    db.session.add_all(
        JobItem(job_id=job.id, model_id=m.id, gender=m.gender, reference_url=m.s3_url, example_index=i)
        for m in selection.models
        for i in range(examples_per_model)
    )
    job.total = len(selection.models) * examples_per_model
    return job, selection


def enqueue(services, job_id: str) -> None:
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


def request_retry_of_failed(services, job_id: str, created_by: str | None = None) -> QueuedJob:
    """A follow-up job for exactly the models of `job_id` that got no example."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise GenerationError(f"No job with id {job_id!r}.", 404)
    if job.status not in (JobStatus.PARTIAL, JobStatus.FAILED, JobStatus.CANCELED):
        raise GenerationError(
            f"Job {job_id} is {job.status}; only a finished job with failed models can be retried.", 409
        )
    registry = services.registry()
    succeeded = {i.model_id for i in job.items if i.state == ItemState.SUCCEEDED}
    failed_ids = sorted(
        {i.model_id for i in job.items if i.state in (ItemState.FAILED, ItemState.CANCELED)} - succeeded
    )
    models = [registry.get(m) for m in failed_ids if registry.get(m) is not None]
    if not models:
        raise GenerationError(f"Job {job_id} has no failed models to retry.", 409)
    preset_id, examples_per_model = job.preset_id, job.examples_per_model
    try:
        return request_generation(
            services, preset_id, examples_per_model, models=models, retry_of=job_id, created_by=created_by
        )
    except GenerationError as exc:
        if exc.status == 409 and "already been used" in exc.message:
            raise GenerationError(
                "The failed models of this job have been taken by another job since; there is nothing left to retry.",
                409,
            ) from None
        raise
