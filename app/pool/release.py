"""Releasing one model of a preset: it becomes free for the next job, its examples stay.

One model's release is refused while a job that has not ended holds the model (reserved by it, or among its
open items, as a retry reuses models already used), so a model is never offered to two jobs at once. Curation rejects
an example, and the admin deletes one, releasing its model in the same transaction, refused the same way.
Clearing all of a preset's usage (`clear_preset_usage`) waits until none of its jobs is live.
"""

from __future__ import annotations

from sqlalchemy import select

from app.accounts.audit import record
from app.core.database import db
from app.core.errors import GenerationError
from app.models import ITEM_OPEN, JOB_LIVE, Job, JobItem, Preset, live_job_for_preset
from app.pool.registry import HasRegistry
from app.pool.selection import clear_usage, holders_of, lock_preset, release_model


def release_one_model(services: HasRegistry, preset_id: str, model_id: str, actor: str | None) -> str:
    """Release `model_id` for `preset_id` and commit; returns the message to show. A GenerationError
    (404 unknown preset or model, 409 held by a live job or not used) otherwise."""
    preset = lock_preset(preset_id)
    if preset is None:
        raise GenerationError(f"No preset with id {preset_id!r}.", 404)
    if services.registry().get(model_id) is None:
        raise GenerationError(f"No reference model {model_id!r} in models.json.", 404)
    if not release_unless_held(preset, model_id):
        raise GenerationError(f'Model {model_id} is not used by preset "{preset.name}"; it is already free.', 409)
    detail = f"model {model_id}"
    record(actor, "usage.release", f"preset {preset.name}", detail, preset_id=preset.id, subjects=[model_id])
    db.session.commit()
    return f"Model {model_id} released: the next job can select it again. Its examples stay in the gallery."


def clear_preset_usage(preset: Preset, actor: str | None) -> str:
    """Forget every model the preset used or reserved (its gallery stays), record who did and commit; returns
    the message to show. A 409 GenerationError while a job of the preset has not ended."""
    refuse_while_live(preset)
    removed = clear_usage(preset.id)
    record(actor, "usage.clear", f"preset {preset.name}", f"{removed} usage rows", preset_id=preset.id)
    db.session.commit()
    return (
        f'Cleared {removed} usage rows of preset "{preset.name}": every model can be selected again. '
        "The gallery is unchanged."
    )


def refuse_while_live(preset: Preset) -> None:
    """A 409 GenerationError while a job of the preset has not ended (it holds models: clearing waits for it)."""
    if live_job_for_preset(preset.id):
        raise GenerationError(
            f'Preset "{preset.name}" has a job in progress; clear its usage once it has finished.', 409
        )


def release_unless_held(preset: Preset, model_id: str) -> bool:
    """Release the model under the caller's `lock_preset` (uncommitted); False when it was not used, a 409
    GenerationError while a job that has not ended holds it."""
    refuse_if_held(preset, model_id)
    return release_model(preset.id, model_id)


def refuse_if_held(preset: Preset, model_id: str) -> None:
    """A 409 GenerationError while a job that has not ended holds the model; call it under `lock_preset`."""
    holding = holding_job(preset.id, model_id)
    if holding:
        raise GenerationError(
            f"Model {model_id} is held by running job {holding}; release it once that job has ended.", 409
        )


def holding_job(preset_id: str, model_id: str) -> str | None:
    """The gallery job that has not ended and holds the model: reserved by it, or among its open items (a
    comparison's jobs hold no model: their outputs reach the gallery only by adoption)."""
    reserved_by = holders_of(preset_id).reserved
    if model_id in reserved_by:
        return reserved_by[model_id] or "?"
    return db.session.scalar(
        select(Job.id)
        .join(JobItem, JobItem.job_id == Job.id)
        .where(
            Job.preset_id == preset_id,
            Job.status.in_(JOB_LIVE),
            Job.comparison_id.is_(None),
            JobItem.model_id == model_id,
            JobItem.state.in_(ITEM_OPEN),
        )
        .limit(1)
    )
