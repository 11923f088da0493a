"""What the app and the worker share: settings, registry, media storage, progress store, limits, queue.

Built once per process by the app factory. The enqueue function is handed in by whoever builds
the app (`wsgi.py`, the Huey worker, the tests), so nothing below the factory imports the queue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import redis
import replicate

from .config import Settings
from .generation.progress import make_progress_store
from .generation.rate_limit import LocalCreateLimiter, RedisCreateLimiter
from .providers.base import Generator
from .providers.downloads import SafeDownloader
from .providers.offline import OfflineGenerator
from .providers.replicate import ReplicateGenerator
from .registry import Registry, get_registry
from .storage.local import MediaStorage


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def no_queue(job_id: str) -> None:
    raise RuntimeError("This app was built without a job queue: pass create_app(enqueue=...).")


class Services:
    def __init__(self, settings: Settings, enqueue: Callable[[str], None] | None = None):
        self.settings = settings
        self.storage = MediaStorage(settings.media_dir)
        self.progress = make_progress_store(settings.redis_url, settings.instance_path)
        self._enqueue = enqueue or no_queue
        self._limiter = None
        self._generators: dict[bool, Generator] = {}
        self._lock = threading.Lock()

    def registry(self) -> Registry:
        return get_registry(self.settings.models_file)

    def generator(self, offline: bool) -> Generator:
        """The item runner, one per process and shared by every job: building HTTP clients (CA bundle,
        connection pool) per job cost CPU, memory and time at each job's start."""
        with self._lock:
            if offline not in self._generators:
                self._generators[offline] = self._build_generator(offline)
            return self._generators[offline]

    def _build_generator(self, offline: bool) -> Generator:
        settings = self.settings
        if offline:
            return OfflineGenerator(self.storage, delay=settings.offline_delay)
        client = replicate.Client(api_token=settings.replicate_api_token, base_url=settings.replicate_base_url)
        downloads = settings.instance_path / "downloads"
        downloads.mkdir(mode=0o700, parents=True, exist_ok=True)
        downloader = SafeDownloader(
            # the test server's files are reached at REPLICATE_BASE_URL's origin; unset in production
            allowed_origin=origin_of(settings.replicate_base_url) if settings.replicate_base_url else None,
            max_bytes=settings.max_output_bytes,
            temp_dir=downloads,
        )
        return ReplicateGenerator(
            client,
            self.storage,
            sd_version=settings.sd_img2img_version,
            deadline=settings.prediction_timeout,
            poll_interval=settings.poll_interval,
            limiter=self.create_limiter(),
            downloader=downloader,
        )

    def create_limiter(self):
        """The create-rate limit shared by every consumer (in Redis), or by this process without Redis."""
        if self._limiter is None:
            per_minute = self.settings.create_rate_per_minute
            if self.settings.redis_url:
                self._limiter = RedisCreateLimiter(redis.Redis.from_url(self.settings.redis_url), per_minute)
            else:
                self._limiter = LocalCreateLimiter(per_minute)
        return self._limiter

    def enqueue_job(self, job_id: str) -> None:
        self._enqueue(job_id)


def services_of(app) -> Services:
    """The app's services (typed), for code that holds the app object."""
    return app.extensions["pixelglow"]
