"""What the account spent at Replicate lately, as every consumer saw it: calls and 429s per kind.

The jobs page shows creates and reads of the last minute next to their limits, and the 429s
of the last hour, so an admin can tell whether the account (shared with the production app)
is healthy. Counts live in Redis in 10 s buckets that expire after an hour (one INCR per call);
without Redis (the embedded first-run setup) in a table of the embedded store's SQLite file, so
the web process sees what the consumer counted.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from redis import Redis

from app.jobs.embedded_store import embedded_db
from app.jobs.metric_counts import KEY as TOTALS_KEY

log = logging.getLogger(__name__)

KINDS = ("create", "read", "create_429", "read_429")
BUCKET_SECONDS = 10
KEEP_SECONDS = 3600
PREFIX = "pixelglow:api-usage"


def _bucket(now: float) -> int:
    return int(now // BUCKET_SECONDS)


class RedisApiUsage:
    """Counts shared by every process on one Redis."""

    shared = True

    def __init__(self, redis_client: Redis, prefix: str = PREFIX) -> None:
        self.redis = redis_client
        self.prefix = prefix

    def record(self, kind: str) -> None:
        """Never raises: a count lost while Redis restarts only makes the page a little optimistic."""
        key = f"{self.prefix}:{kind}:{_bucket(time.time())}"
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, KEEP_SECONDS + 2 * BUCKET_SECONDS)
            pipe.hincrby(TOTALS_KEY, f"calls:{kind}", 1)  # the total since ever, for /metrics
            pipe.execute()
        except Exception as exc:
            log.debug("api usage not counted: %s", exc)

    def _sum(self, kind: str, seconds: int) -> int:
        now = _bucket(time.time())
        keys = [f"{self.prefix}:{kind}:{b}" for b in range(now - seconds // BUCKET_SECONDS + 1, now + 1)]
        return sum(int(v) for v in self.redis.mget(keys) if v is not None)

    def summary(self) -> dict:
        return summary_of(self._sum)


class SqliteApiUsage:
    """Counts shared through the embedded store's SQLite file (no Redis: the web process and one consumer)."""

    shared = True

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self._db = embedded_db(Path(path))
        self._pruned = 0

    def record(self, kind: str) -> None:
        bucket = _bucket(time.time())
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO api_usage (kind, bucket, n) VALUES (?, ?, 1) "
                    "ON CONFLICT(kind, bucket) DO UPDATE SET n = n + 1",
                    (kind, bucket),
                )
                if bucket != self._pruned:
                    self._pruned = bucket
                    conn.execute("DELETE FROM api_usage WHERE bucket < ?", (bucket - KEEP_SECONDS // BUCKET_SECONDS,))
        except sqlite3.Error as exc:
            log.debug("api usage not counted: %s", exc)

    def _sum(self, kind: str, seconds: int) -> int:
        since = _bucket(time.time()) - seconds // BUCKET_SECONDS + 1
        rows = self._db.execute(
            "SELECT COALESCE(SUM(n), 0) FROM api_usage WHERE kind = ? AND bucket >= ?", (kind, since)
        )
        return int(rows[0][0])

    def summary(self) -> dict:
        return summary_of(self._sum)


def summary_of(total: Callable[[str, int], int]) -> dict:
    """Calls of the last minute (the current 10 s bucket and the five before it) and 429s of the last hour."""
    return {
        "creates": total("create", 60),
        "reads": total("read", 60),
        "create_429s": total("create_429", 60),
        "read_429s": total("read_429", 60),
        "create_429s_hour": total("create_429", KEEP_SECONDS),
        "read_429s_hour": total("read_429", KEEP_SECONDS),
    }
