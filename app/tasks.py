"""The Huey queue and its task: `huey_consumer app.tasks.huey` runs the pipeline.

Huey has no Flask integration: the queue is built here from the environment (Redis when
REDIS_URL or GENERATE_QUEUE is set, an embedded SQLite queue in instance/ otherwise),
and each worker builds the Flask app once and runs task bodies in its app context.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from typing import Any

from flask import Flask, current_app, has_app_context
from huey import Huey
from huey.storage import BaseStorage, RedisStorage, SqliteStorage
from sqlalchemy import text

from app import configure_logging, create_app
from app.core.config import ConfigError, Settings, load_settings
from app.core.database import db
from app.core.env_file import load_env_file
from app.core.error_reporting import start_error_reporting
from app.core.files import create_private_file
from app.jobs.embedded_store import StoreDamaged, embedded_db, store_path
from app.jobs.pipeline import JobNotFound, LeaseLost, run_job
from app.jobs.recovery import finalize_without_worker, sweep_stale_jobs
from app.models import JobStatus
from app.pool.registry import RegistryError, registry_file
from app.services import services_of

QUEUE_NAME = "example-generation"
CONSUMER_HEARTBEAT_SECONDS = 5
log = logging.getLogger("app.tasks")


class QueueStorage:
    """The queue's storage, built on first use from the environment: Redis when REDIS_URL (or GENERATE_QUEUE) is
    set, an embedded SQLite file in instance/ otherwise. Importing this module connects to nothing and writes
    nothing; a process that never queues or consumes never touches the queue."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._storage: BaseStorage | None = None
        self._lock = threading.Lock()

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.built(), attribute)

    def built(self) -> BaseStorage:
        with self._lock:
            if self._storage is None:
                self._storage = queue_storage(load_settings(), self.name)
            return self._storage


def queue_storage(settings: Settings, name: str = QUEUE_NAME) -> BaseStorage:
    if settings.redis_url:
        return RedisStorage(name, url=settings.redis_url)
    queue_file = create_private_file(settings.instance_path / "queue.sqlite3")  # 0600 in a 0700 instance/
    return SqliteStorage(name, filename=str(queue_file))


class AppHuey(Huey):
    """Huey with its storage built on first use (`QueueStorage`), and the checks a consumer makes at its start.

    `huey_consumer` calls `create_consumer` once, before any worker starts: it reads `.env`; then a configuration
    error, a broken models.json or a damaged embedded progress store stops it there, naming the variable or the
    file and every problem, instead of failing jobs later. The workers then share the registry loaded here, and
    keep the last good one if the file breaks while they run."""

    def create_storage(self) -> BaseStorage:
        if self.immediate and self.immediate_use_memory:  # the tests' immediate mode: Huey's memory storage
            return self.get_immediate_storage()
        return QueueStorage(self.name)

    def create_consumer(self, **options: Any) -> Any:
        try:
            load_env_file()  # before the settings: the workers and the queue read them after this
            settings = load_settings()
        except ConfigError as exc:  # the consumer stops with the variable named, not a traceback
            sys.exit(f"Configuration error: {exc}")
        start_error_reporting(settings)  # the workers' task exceptions (sentry-sdk's Huey integration)
        try:
            registry_file(settings.models_file).load()
        except RegistryError as exc:
            sys.exit(exc.refusal(settings.models_file, "the consumer"))
        if not settings.redis_url:
            try:
                embedded_db(store_path(settings.instance_path)).check()
            except StoreDamaged as exc:
                sys.exit(f"The consumer cannot start. {exc}")
        return super().create_consumer(**options)


# results=False: a job's outcome lives in its rows and progress record; Huey's result hash has no expiry and
# nobody would read it.
huey = AppHuey(QUEUE_NAME, results=False)
_worker_app = None
_worker_app_lock = threading.Lock()


def _app() -> Flask:
    """The app of the current context (tests, immediate mode) or this worker's own (one per process, however
    many worker threads ask for it first)."""
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]  # a proxy, typed as the app
    with _worker_app_lock:
        if _worker_app is None:
            configure_logging()
            # models.json and the progress store were checked when the consumer started (ChecksBeforeConsuming):
            # broken since, the last good registry is used rather than failing the job
            _worker_app = create_app(enqueue=enqueue_job, checks_at_start=False)
    return _worker_app


@huey.task(retries=3, retry_delay=10, retry_backoff=2, context=True)
def generate_examples(job_id: str, task: Any = None) -> dict | None:
    """Run one job; a retry resumes it from its items. After the last retry the job is failed."""
    app = _app()
    with app.app_context():
        services = services_of(app)
        try:
            return run_job(job_id, services)
        except JobNotFound:
            log.warning("job=%s not found (deleted before it ran); nothing to do", job_id)
            return None
        except LeaseLost as exc:
            log.warning("job=%s %s", job_id, exc)
            return None
        except Exception as exc:
            if task is not None and task.retries == 0:
                log.exception("job=%s failed on its last attempt", job_id)
                db.session.rollback()
                finalize_without_worker(
                    services, job_id, JobStatus.FAILED, f"The job failed on its last retry; last error: {exc}"
                )
            raise


def enqueue_job(job_id: str) -> None:
    """What the app factory is handed as `enqueue`: put a job on the queue."""
    generate_examples(job_id)


def queued_job_ids() -> list[str]:
    """Jobs with a task waiting in the queue or scheduled for a retry (they are not lost)."""
    ids = []
    for task in list(huey.pending()) + list(huey.scheduled()):
        if task.name.endswith("generate_examples") and task.args:
            ids.append(task.args[0])
    return ids


def sweep_once(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        services = services_of(app)
        return sweep_stale_jobs(services, queued_job_ids, services.enqueue_job)


_background_lock = threading.Lock()
_background_started = False


@huey.on_startup()
def start_consumer_background() -> None:
    """Once per consumer process: publish a heartbeat, and sweep for lost jobs every few seconds.

    A thread rather than a self-rescheduling task: a task dies with the worker that holds it
    (Huey has no acknowledgements), while every live consumer keeps its own sweeping thread.
    """
    global _background_started
    with _background_lock:
        if _background_started:
            return
        _background_started = True
    app = _app()
    services = services_of(app)

    def heartbeat() -> None:
        while True:
            try:
                services.progress.beat(consumer_name(), ttl=CONSUMER_HEARTBEAT_SECONDS * 3)
            except Exception as exc:  # Redis restarting: try again next beat
                log.warning("consumer heartbeat not written: %s", exc)
            time.sleep(CONSUMER_HEARTBEAT_SECONDS)

    def sweep() -> None:
        while True:
            try:
                sweep_once(app)
            except Exception:
                log.exception("sweep for lost jobs failed; trying again")
            time.sleep(services.settings.sweep_interval)

    threading.Thread(target=heartbeat, name="consumer-heartbeat", daemon=True).start()
    threading.Thread(target=sweep, name="lost-job-sweep", daemon=True).start()
    warm_up(app)


def consumer_name() -> str:
    """How this consumer process is named in heartbeats (`doctor` lists them)."""
    return f"{socket.gethostname()}-{os.getpid()}"


@huey.on_shutdown()
def stop_heartbeat() -> None:
    """A consumer that stops is no longer counted alive (its heartbeat would otherwise last its ttl)."""
    try:
        services_of(_app()).progress.stop_beating(consumer_name())
    except Exception as exc:  # the store is down: the heartbeat expires by itself
        log.warning("consumer heartbeat not removed: %s", exc)


def warm_up(app: Flask) -> None:
    """Build what the first job would otherwise build on its own clock, so it runs as fast as the next ones:
    the generator and its HTTP clients, the registry, the limiters' Redis scripts, and a database connection
    for each of the consumer's workers."""
    started = time.monotonic()
    try:
        with app.app_context():
            services_of(app).warm_up()
            db.session.execute(text("SELECT 1"))
            db.session.remove()
    except Exception as exc:  # a service still starting: the first job builds what is missing
        log.warning("consumer warm-up incomplete: %s", exc)
        return
    log.info("consumer warmed up in %.2f s", time.monotonic() - started)
