"""A gallery example as every caller shows it: the API, the progress record and the admin pages."""

from __future__ import annotations

from .models import GalleryExample, iso
from .storage.base import Storage


def example_json(example: GalleryExample, storage: Storage) -> dict:
    return {
        "id": example.id,
        "modelId": example.model_id,
        "gender": example.gender,
        "index": example.example_index,
        "provider": example.provider,
        "imageUrl": storage.url(example.image_path),
        "predictionId": example.prediction_id,
        "jobId": example.job_id,
        "createdAt": iso(example.created_at),
        "offline": example.offline,
        # what made it (modelVersion and settings are null for examples stored before they were recorded)
        "prompt": example.prompt,
        "modelVersion": example.model_version,
        "settings": example.settings,
    }
