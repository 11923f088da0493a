"""What only the tests use in place of (or on top of) the app's own code: an in-process API-usage count, the
registry read by path, the models a preset has taken."""

import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from app.core.database import db
from app.jobs.api_usage import BUCKET_SECONDS, KEEP_SECONDS, KINDS, _bucket, summary_of
from app.models import PresetModelUsage
from app.pool.registry import Registry, registry_file


def get_registry(path: Path) -> Registry:
    """The registry at `path`, from memory unless the file changed since it was read."""
    return registry_file(path).registry()


def taken_model_ids(preset_id: str) -> set[str]:
    return set(db.session.scalars(select(PresetModelUsage.model_id).where(PresetModelUsage.preset_id == preset_id)))


class LocalApiUsage:
    """This process's own counts (no Redis)."""

    shared = False

    def __init__(self):
        self._counts: Counter[tuple[str, int]] = Counter()
        self._lock = threading.Lock()

    def record(self, kind: str) -> None:
        now = _bucket(time.time())
        with self._lock:
            self._counts[(kind, now)] += 1
            if len(self._counts) > 4 * len(KINDS) * KEEP_SECONDS // BUCKET_SECONDS:
                oldest = now - KEEP_SECONDS // BUCKET_SECONDS
                for key in [k for k in self._counts if k[1] < oldest]:
                    del self._counts[key]

    def _sum(self, kind: str, seconds: int) -> int:
        now = _bucket(time.time())
        with self._lock:
            return sum(self._counts[(kind, b)] for b in range(now - seconds // BUCKET_SECONDS + 1, now + 1))

    def summary(self) -> dict:
        return summary_of(self._sum)
