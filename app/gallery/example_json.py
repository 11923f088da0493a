"""A gallery example as every caller shows it: the API, the progress record and the admin pages."""

from __future__ import annotations

from app.models import GalleryExample, iso
from app.storage.base import Storage


def example_json(example: GalleryExample, storage: Storage) -> dict:
    """`imageUrl` is the original (full size, downloadable); `thumbUrl` (~320 px, the grids) and `mediumUrl`
    (~1024 px, the side-by-side view) are WebPs, null until made, with their pixel sizes."""
    return {
        "id": example.id,
        "modelId": example.model_id,
        "gender": example.gender,
        "index": example.example_index,
        "provider": example.provider,
        "imageUrl": storage.url(example.image_path),
        "thumbUrl": storage.url(example.thumb_path) if example.thumb_path else None,
        "thumbWidth": example.thumb_width,
        "thumbHeight": example.thumb_height,
        "mediumUrl": storage.url(example.medium_path) if example.medium_path else None,
        "mediumWidth": example.medium_width,
        "mediumHeight": example.medium_height,
        "predictionId": example.prediction_id,
        "jobId": example.job_id,
        "createdAt": iso(example.created_at),
        "offline": example.offline,
        # what made it (modelVersion and settings are null for examples stored before they were recorded)
        "prompt": example.prompt,
        "modelVersion": example.model_version,
        "settings": example.settings,
    }
