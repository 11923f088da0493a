"""What the app and the worker share: settings, registry, media storage, progress store, queue."""
from __future__ import annotations

from .config import Settings
from .progress import make_progress_store
from .registry import Registry, get_registry
from .storage import MediaStorage


class Services:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.storage = MediaStorage(settings.media_dir)
        self.progress = make_progress_store(settings.redis_url, settings.instance_path)

    def registry(self) -> Registry:
        return get_registry(self.settings.models_file)

    def create_limiter(self):
        """Shared limit on prediction creates; None means no limit beyond Replicate's own."""
        return None

    def enqueue_job(self, job_id: str) -> None:
        from .tasks import generate_examples

        generate_examples(job_id)
