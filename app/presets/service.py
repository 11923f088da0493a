"""A preset's writes: create, update and delete, each checked, recorded in the activity log and committed here,
so the API, the admin form and the CLI change a preset the same way and the log reads the same whichever was used.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.accounts.audit import record
from app.core.database import db
from app.core.errors import PresetError
from app.models import JOB_LIVE, Comparison, Job, Preset, live_job_for_preset, new_id
from app.presets.rules import apply_preset_fields
from app.storage.base import Storage, preset_prefix

DUPLICATE_NAME = "A preset with this name already exists; choose another name."


def create_preset(fields: Any, actor: str | None) -> Preset:
    """A new preset from `fields` ({name, prompt, provider, settings}); a PresetError (400, or 409 for a
    name already taken) stores nothing."""
    preset = Preset(id=new_id())  # known now, for the activity log
    apply_preset_fields(preset, fields, creating=True)
    preset.created_by = preset.updated_by = actor
    db.session.add(preset)
    record(actor, "preset.create", f"preset {preset.name}", preset_id=preset.id)
    commit_preset()
    return preset


def update_preset(preset: Preset, fields: Any, actor: str | None) -> Preset:
    """Change the fields `fields` names (the others stay); a PresetError changes nothing."""
    try:
        apply_preset_fields(preset, fields, creating=False)
    except PresetError:
        db.session.rollback()  # the preset may be half-changed in the session: forget it
        raise
    preset.updated_by = actor
    record(actor, "preset.update", f"preset {preset.name}", preset_id=preset.id)
    commit_preset()
    return preset


def delete_preset(preset: Preset, actor: str | None, storage: Storage) -> str:
    """Delete the preset with its gallery (rows, then stored images); refused (409) while a job of it has not
    ended. Returns the message to show."""
    name, preset_id = preset.name, preset.id
    if live_job_for_preset(preset_id):
        raise PresetError(
            f'Preset "{name}" has a job in progress; wait for it to finish (or cancel it) before deleting it.', 409
        )
    running = live_comparison_of(preset_id)
    if running:
        raise PresetError(
            f'Preset "{name}" has comparison {running} still running; cancel the comparison first (or wait for it '
            "to finish), then delete the preset.",
            409,
        )
    comparisons = list(db.session.scalars(select(Comparison.id).where(Comparison.preset_id == preset_id)))
    db.session.delete(preset)
    record(actor, "preset.delete", f"preset {name}", f"id {preset_id}", preset_id=preset_id)
    db.session.commit()
    storage.delete_tree(preset_prefix(preset_id))
    for comparison_id in comparisons:  # their cells' images go with them (the rows went by ON DELETE CASCADE)
        storage.delete_tree(f"comparisons/{comparison_id}")  # where app.jobs.writes stores them
    return f'Preset "{name}" deleted with its gallery.'


def live_comparison_of(preset_id: str) -> str | None:
    """The id of a comparison of the preset whose jobs have not all ended (its jobs are not gallery jobs, so
    `live_job_for_preset` leaves them out)."""
    live = select(Job.comparison_id).where(
        Job.preset_id == preset_id, Job.comparison_id.is_not(None), Job.status.in_(JOB_LIVE)
    )
    return db.session.scalars(live.limit(1)).first()


def commit_preset() -> None:
    """Commit, or a 409 PresetError when the name is taken (the unique index decides, race-free)."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise PresetError(DUPLICATE_NAME, 409) from None
