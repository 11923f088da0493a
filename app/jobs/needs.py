"""What a job needs from the app's services (`app.services.Services` provides it): the settings, the storage,
the progress store, the reference models, a generator and the queue. The jobs' functions are typed against this
Protocol, so they can be run with anything that provides these (the worker's services, a test's)."""

from __future__ import annotations

from typing import Protocol

from app.core.config import Settings
from app.jobs.progress import ProgressStore
from app.pool.registry import Registry
from app.providers.base import Generator
from app.storage.base import Storage


class JobServices(Protocol):
    settings: Settings
    storage: Storage
    progress: ProgressStore

    def registry(self) -> Registry: ...

    def generator(self, offline: bool) -> Generator: ...

    def enqueue_job(self, job_id: str) -> None: ...
