"""The Huey queue and its task: `huey_consumer app.tasks.huey` runs the pipeline.

Huey has no Flask integration: the queue is built here from the environment (Redis when
REDIS_URL or GENERATE_QUEUE is set, an embedded SQLite queue in instance/ otherwise),
and each worker builds the Flask app once and runs task bodies in its app context.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time

from flask import current_app, has_app_context
from huey import RedisHuey, SqliteHuey

from .config import load_settings

QUEUE_NAME = "example-generation"
log = logging.getLogger("app.tasks")


def make_huey(settings):
    if settings.redis_url:
        return RedisHuey(QUEUE_NAME, url=settings.redis_url)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(QUEUE_NAME, filename=str(settings.instance_path / "queue.sqlite3"))


huey = make_huey(load_settings())
_worker_app = None


def _app():
    """The app of the current context (tests, immediate mode) or this worker's own."""
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()
    if _worker_app is None:
        from . import configure_logging, create_app

        configure_logging()
        _worker_app = create_app()
    return _worker_app


@huey.task(retries=3, retry_delay=10, retry_backoff=2, context=True)
def generate_examples(job_id: str, task=None):
    """Run one job; a retry resumes it from its items."""
    from .pipeline import JobNotFound, run_job

    app = _app()
    with app.app_context():
        try:
            return run_job(job_id, app.extensions["pixelglow"])
        except JobNotFound:
            log.warning("job=%s not found (deleted before it ran); nothing to do", job_id)
            return None


CONSUMER_HEARTBEAT_SECONDS = 5
_heartbeat_started = threading.Lock()
_heartbeat_thread: threading.Thread | None = None


@huey.on_startup()
def start_consumer_heartbeat():
    """Publish that this consumer is alive, so the admin can say when no worker is running."""
    global _heartbeat_thread
    with _heartbeat_started:
        if _heartbeat_thread is not None:
            return
        name = f"{socket.gethostname()}-{os.getpid()}"
        services = _app().extensions["pixelglow"]

        def beat():
            while True:
                try:
                    services.progress.beat(name, ttl=CONSUMER_HEARTBEAT_SECONDS * 3)
                except Exception as exc:  # Redis restarting: try again next beat
                    log.warning("consumer heartbeat not written: %s", exc)
                time.sleep(CONSUMER_HEARTBEAT_SECONDS)

        _heartbeat_thread = threading.Thread(target=beat, name="consumer-heartbeat", daemon=True)
        _heartbeat_thread.start()
