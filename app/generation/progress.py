"""Live progress of jobs, kept where polling is cheap: Redis, or an embedded SQLite file.

The worker writes one JSON record per job after every step; the progress fragment and
the job API read it without touching the database. Records of finished jobs are kept
for the most recent RETAIN_FINISHED jobs and expire after that (our own keys, so each
can carry its own expiry, which Huey's key-value hash cannot).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import redis

from ..config import private_file

RETAIN_FINISHED = 100
FINISHED_TTL = 7 * 24 * 3600
LIVE_TTL = 2 * 24 * 3600
PREFIX = "pixelglow:"


class RedisProgressStore:
    def __init__(self, url: str):
        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)

    def write(self, job_id: str, record: dict, finished: bool = False) -> None:
        key = f"{PREFIX}progress:{job_id}"
        pipe = self.redis.pipeline()
        pipe.set(key, json.dumps(record, separators=(",", ":")), ex=FINISHED_TTL if finished else LIVE_TTL)
        if finished:
            recent = f"{PREFIX}finished"
            pipe.zadd(recent, {job_id: time.time()})
            pipe.zrange(recent, 0, -(RETAIN_FINISHED + 1))
            _, _, stale = pipe.execute()
            if stale:
                ids = [s.decode() for s in stale]
                pipe = self.redis.pipeline()
                pipe.delete(*[f"{PREFIX}progress:{i}" for i in ids])
                pipe.zrem(recent, *ids)
                pipe.execute()
        else:
            pipe.execute()

    def read(self, job_id: str) -> dict | None:
        raw = self.redis.get(f"{PREFIX}progress:{job_id}")
        return json.loads(raw) if raw else None

    def delete(self, job_id: str) -> None:
        self.redis.delete(f"{PREFIX}progress:{job_id}")

    def beat(self, name: str, ttl: int) -> None:
        self.redis.set(f"{PREFIX}heartbeat:{name}", str(time.time()), ex=ttl)

    def alive(self) -> list[str]:
        return [k.decode().rsplit(":", 1)[1] for k in self.redis.scan_iter(f"{PREFIX}heartbeat:*", count=100)]

    def ping(self) -> None:
        self.redis.ping()


class SqliteProgressStore:
    """The embedded store for a first run without Redis: one small table in instance/."""

    def __init__(self, path: Path):
        self.path = str(path)
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS progress (key TEXT PRIMARY KEY, value TEXT, expires REAL, finished REAL)"
            )

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            private_file(Path(self.path))  # 0600 in a 0700 folder; SQLite gives its -wal/-shm the same mode
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn

    def _put(self, key: str, value: str, ttl: float, finished: float | None = None) -> None:
        self._connect().execute(
            "INSERT INTO progress (key, value, expires, finished) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE "
            "SET value = excluded.value, expires = excluded.expires, finished = excluded.finished",
            (key, value, time.time() + ttl, finished),
        )

    def write(self, job_id: str, record: dict, finished: bool = False) -> None:
        ttl = FINISHED_TTL if finished else LIVE_TTL
        self._put(
            f"progress:{job_id}", json.dumps(record, separators=(",", ":")), ttl, time.time() if finished else None
        )
        if finished:
            self._connect().execute(
                "DELETE FROM progress WHERE finished IS NOT NULL AND key NOT IN "
                "(SELECT key FROM progress WHERE finished IS NOT NULL ORDER BY finished DESC LIMIT ?)",
                (RETAIN_FINISHED,),
            )

    def read(self, job_id: str) -> dict | None:
        row = (
            self._connect()
            .execute("SELECT value FROM progress WHERE key = ? AND expires > ?", (f"progress:{job_id}", time.time()))
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    def delete(self, job_id: str) -> None:
        self._connect().execute("DELETE FROM progress WHERE key = ?", (f"progress:{job_id}",))

    def beat(self, name: str, ttl: int) -> None:
        self._put(f"heartbeat:{name}", str(time.time()), ttl)

    def alive(self) -> list[str]:
        rows = (
            self._connect()
            .execute("SELECT key FROM progress WHERE key LIKE 'heartbeat:%' AND expires > ?", (time.time(),))
            .fetchall()
        )
        return [r[0].split(":", 1)[1] for r in rows]

    def ping(self) -> None:
        self._connect().execute("SELECT 1")


def make_progress_store(redis_url: str | None, instance_path: Path):
    if redis_url:
        return RedisProgressStore(redis_url)
    return SqliteProgressStore(Path(instance_path) / "progress.sqlite3")
