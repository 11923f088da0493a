"""What the app and the worker share: settings, registry, media storage, progress store, queue."""
from __future__ import annotations

from .config import Settings
from .progress import make_progress_store
from .rate_limit import LocalCreateLimiter, RedisCreateLimiter
from .registry import Registry, get_registry
from .storage import MediaStorage


class Services:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.storage = MediaStorage(settings.media_dir)
        self.progress = make_progress_store(settings.redis_url, settings.instance_path)
        self._limiter = None

    def registry(self) -> Registry:
        return get_registry(self.settings.models_file)

    def create_limiter(self):
        """The create-rate limit shared by every consumer (in Redis), or by this process without Redis."""
        if self._limiter is None:
            per_minute = self.settings.create_rate_per_minute
            if self.settings.redis_url:
                import redis

                self._limiter = RedisCreateLimiter(redis.Redis.from_url(self.settings.redis_url), per_minute)
            else:
                self._limiter = LocalCreateLimiter(per_minute)
        return self._limiter

    def enqueue_job(self, job_id: str) -> None:
        from .tasks import generate_examples

        generate_examples(job_id)
