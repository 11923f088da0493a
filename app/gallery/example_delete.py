"""Deleting one example of a preset's gallery, its model released when asked: checked, recorded in the activity
log and committed here, whichever door asked (the preset page's card, its plain page)."""

from __future__ import annotations

from app.accounts.audit import record
from app.core.database import db
from app.core.errors import CurationError, GenerationError
from app.models import GalleryExample
from app.pool.release import release_unless_held
from app.pool.selection import lock_preset
from app.storage.base import Storage
from app.storage.sizes import delete_sizes


def delete_example(preset_id: str, example_id: str, release: bool, actor: str | None, storage: Storage) -> str:
    """Delete the example (row, then its image and sizes) and return the message to show. Under the preset's
    lock; releasing its model is refused like any release (409 naming the job, nothing deleted) while a job that
    has not ended holds the model. A 404 CurationError when the example is not this preset's."""
    preset = lock_preset(preset_id)
    example = db.session.get(GalleryExample, example_id)
    if preset is None or example is None or example.preset_id != preset_id:
        raise CurationError("That example no longer exists.", 404)
    model_id, key = example.model_id, example.image_path
    if release:
        try:
            release_unless_held(preset, model_id)
        except GenerationError as exc:
            db.session.rollback()
            raise GenerationError(f"{exc.message} Nothing was deleted.", exc.status) from None
    db.session.delete(example)
    detail = f"model {model_id}" + (", released" if release else "")
    record(actor, "example.delete", f"preset {preset.name}", detail, preset_id=preset_id, subjects=[model_id])
    db.session.commit()
    storage.delete(key)
    delete_sizes(storage, key)
    return f"Example of model {model_id} deleted" + ("; the model can be selected again." if release else ".")
