"""What the app and the worker share: settings, registry, storage (folder or bucket), progress store, limits, queue.

Built once per process by the app factory. The enqueue function is handed in by whoever builds
the app (`wsgi.py`, the Huey worker, the tests), so nothing below the factory imports the queue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

import httpx
import redis
import replicate

from app.core.config import Settings
from app.jobs.account_limits import CREATE_BURST, READ_KEY, LocalTokenBucket, RedisTokenBucket, TokenBucket
from app.jobs.api_usage import RedisApiUsage, SqliteApiUsage
from app.jobs.embedded_store import store_path
from app.jobs.metric_counts import MetricCounts
from app.jobs.progress import ProgressStore, make_progress_store
from app.jobs.webhook_completions import CompletionStore, make_completions
from app.pool.registry import Registry, RegistryError, registry_file
from app.providers.base import Generator
from app.providers.download.downloader import SafeDownloader
from app.providers.offline import OfflineGenerator
from app.providers.replicate.predictions import ReplicateGenerator
from app.providers.replicate.readings import NEVER
from app.providers.replicate.signatures import fetch_webhook_secret
from app.providers.replicate.transport import CancelAfterTransport, CappedAnswers
from app.storage.base import Storage
from app.storage.local import MediaStorage
from app.storage.s3 import S3Storage


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


CONSUMER_COMMAND = "huey_consumer app.tasks.huey -w 4 -k thread"  # how to start a consumer, as messages say it


def make_storage(settings: Settings) -> Storage:
    """The bucket when S3_BUCKET is set (a connection for each of a consumer's item threads), else MEDIA_DIR."""
    if settings.s3.enabled:
        return S3Storage(settings.s3, pool_size=settings.concurrency + 8)
    return MediaStorage(settings.media_dir)


def no_queue(job_id: str) -> None:
    raise RuntimeError("This app was built without a job queue: pass create_app(enqueue=...).")


class Services:
    def __init__(self, settings: Settings, enqueue: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.storage: Storage = make_storage(settings)
        self.registry_file = registry_file(settings.models_file)
        self.progress: ProgressStore = make_progress_store(settings.redis_url, settings.instance_path)
        self._enqueue = enqueue or no_queue
        self._limiter: TokenBucket | None = None
        self._read_limiter: TokenBucket | None = None
        self._usage: RedisApiUsage | SqliteApiUsage | None = None
        self._metric_counts: MetricCounts | None = None
        self._generators: dict[bool, Generator] = {}
        self._completions: CompletionStore | None = None
        self._webhook_secret: str | None = None
        self._lock = threading.Lock()

    def registry(self) -> Registry:
        """The registry in use: models.json's, or the last good one while the file is broken."""
        return self.registry_file.registry()

    def registry_problem(self) -> RegistryError | None:
        """What is wrong with models.json now (None when it is fine), for the pages' warning and /readyz."""
        return self.registry_file.problem()

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
        client = self.replicate_client()
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
            read_limiter=self.read_limiter(),
            usage=self.api_usage(),
            downloader=downloader,
            webhook_url=settings.webhook_url,
            completions=self.completions() if settings.webhook_url else None,
            fallback_poll=settings.webhook_fallback_poll,
            read_by_list=settings.read_by_list,
        )

    def reference_downloader(self) -> SafeDownloader:
        """The safe downloader for the registry's photos (`models cache`): public https addresses only, the
        same size cap and image checks as outputs; no test origin is trusted."""
        downloads = self.settings.instance_path / "downloads"
        downloads.mkdir(mode=0o700, parents=True, exist_ok=True)
        return SafeDownloader(max_bytes=self.settings.max_output_bytes, temp_dir=downloads)

    def replicate_client(self) -> replicate.Client:
        """A client whose creates carry Cancel-After (the prediction timeout) and whose answers are capped
        (MAX_PREDICTION_BYTES), both by its transport."""
        settings = self.settings
        capped = CappedAnswers(httpx.HTTPTransport(), settings.max_prediction_bytes)
        transport = CancelAfterTransport(capped, settings.prediction_timeout)
        return replicate.Client(
            api_token=settings.replicate_api_token, base_url=settings.replicate_base_url, transport=transport
        )

    def completions(self) -> CompletionStore:
        """Where webhooks' completions are recorded (web process) and awaited (consumers)."""
        if self._completions is None:
            self._completions = make_completions(self.settings.redis_url, self.settings.instance_path)
        return self._completions

    def webhook_secret(self) -> str:
        """REPLICATE_WEBHOOK_SECRET, else the account's secret read once from Replicate (a read of the budget)."""
        if self.settings.webhook_secret:
            return self.settings.webhook_secret
        with self._lock:
            if self._webhook_secret is None:
                self.read_limiter().acquire(NEVER)
                self.api_usage().record("read")
                self._webhook_secret = fetch_webhook_secret(self.replicate_client())
            return self._webhook_secret

    def create_limiter(self) -> TokenBucket:
        """The create-rate limit shared by every consumer (in Redis), or by this process without Redis."""
        if self._limiter is None:
            per_minute = self.settings.create_rate_per_minute
            if self.settings.redis_url:
                client = redis.Redis.from_url(self.settings.redis_url)
                self._limiter = RedisTokenBucket(client, per_minute, burst=CREATE_BURST)
            else:
                self._limiter = LocalTokenBucket(per_minute, burst=CREATE_BURST)
        return self._limiter

    def read_limiter(self) -> TokenBucket:
        """The read budget (polls, cancels: every call but create) shared by every consumer, like the create limit."""
        if self._read_limiter is None:
            per_minute = self.settings.reads_per_minute
            if self.settings.redis_url:
                client = redis.Redis.from_url(self.settings.redis_url)
                self._read_limiter = RedisTokenBucket(client, per_minute, key=READ_KEY)
            else:
                self._read_limiter = LocalTokenBucket(per_minute)
        return self._read_limiter

    def metric_counts(self) -> MetricCounts | None:
        """The counters every process adds to for /metrics (in Redis; None without Redis: nothing is counted)."""
        if self.settings.redis_url is None:
            return None
        if self._metric_counts is None:
            self._metric_counts = MetricCounts(redis.Redis.from_url(self.settings.redis_url))
        return self._metric_counts

    def api_usage(self) -> RedisApiUsage | SqliteApiUsage:
        """Calls to Replicate and 429s of the last minute / hour, as every consumer counted them."""
        if self._usage is None:
            if self.settings.redis_url:
                self._usage = RedisApiUsage(redis.Redis.from_url(self.settings.redis_url))
            else:
                self._usage = SqliteApiUsage(store_path(self.settings.instance_path))
        return self._usage

    def check_progress_store(self) -> None:
        """Raise StoreDamaged (naming the file and the fix) when the embedded store cannot be used: a process
        refuses to start on it rather than write progress nobody else reads. Redis is not checked here."""
        if not self.settings.redis_url:
            self.progress.ping()

    def warm_up(self) -> None:
        """Build at consumer start what the first job would otherwise build on its clock: the generator
        (its HTTP clients and TLS context), the registry, a database connection, the limiters' scripts."""
        self.registry()
        self.generator(self.settings.offline)
        if not self.settings.offline:
            for limiter in (self.create_limiter(), self.read_limiter()):
                if hasattr(limiter, "warm_up"):
                    limiter.warm_up()
            if self.settings.webhook_url:
                self.completions().start(timeout=5.0)  # subscribed before the first job's webhooks

    def enqueue_job(self, job_id: str) -> None:
        self._enqueue(job_id)


class AppWithExtensions(Protocol):
    """The Flask app as this module sees it (Flask itself is imported only by the web and the CLI)."""

    extensions: dict


def services_of(app: AppWithExtensions) -> Services:
    """The app's services (typed), for code that holds the app object."""
    services: Services = app.extensions["pixelglow"]
    return services
