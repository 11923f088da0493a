"""Regenerating one example: a one-item job for the example's model and index, with the preset's current
prompt and settings.

It is built like a retry (`submit.request_generation` with the item given): the same create limit, the
same monthly reservation, and the model reused whether or not it is free (a used model passes to the job
and stays used). It is refused while another job of the preset works on that model. The old example
stays in the gallery until the admin rejects it.
"""

from __future__ import annotations

from app.core.database import db
from app.core.errors import GenerationError
from app.jobs.needs import JobServices
from app.jobs.submit import QueuedJob, request_generation
from app.models import GalleryExample


def find_example(preset_id: str, example_id: str) -> GalleryExample:
    """The example of this preset, or a 404 (an unknown id and another preset's example alike)."""
    example = db.session.get(GalleryExample, example_id)
    if example is None or example.preset_id != preset_id:
        raise GenerationError(f"No example {example_id!r} in the gallery of preset {preset_id!r}.", 404)
    return example


def request_regeneration(
    services: JobServices, preset_id: str, example_id: str, created_by: str | None = None
) -> QueuedJob:
    """Queue one new example for `example_id`'s model and example index (the old one stays)."""
    example = find_example(preset_id, example_id)
    model = services.registry().get(example.model_id)
    if model is None:
        raise GenerationError(
            f"Model {example.model_id} is no longer in models.json, so example {example_id} cannot be regenerated.",
            409,
        )
    return request_generation(
        services,
        preset_id,
        1,
        items=[(model, example.example_index)],
        regenerate_of=example.id,
        created_by=created_by,
    )


def regeneration_message(queued: QueuedJob) -> str:
    item = queued.job.items[0]
    text = f"Regenerating example {item.example_index + 1} of model {item.model_id} in job {queued.job.id}"
    if queued.job.offline:
        text += " (offline mode: a placeholder image, nothing is sent to Replicate)"
    return text + "; the old example stays until you reject it."
