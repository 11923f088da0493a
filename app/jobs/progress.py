"""Live progress of jobs, kept where polling is cheap: Redis, or an embedded SQLite file.

The worker writes one JSON record per job after every step; the progress fragment and
the job API read it without touching the database. Records of finished jobs are kept
for the most recent RETAIN_FINISHED jobs and expire after that (our own keys, so each
can carry its own expiry, which Huey's key-value hash cannot).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import redis

from app.core.iso_time import parse_naive_utc
from app.jobs.embedded_store import embedded_db, store_path
from app.jobs.outcome import final_message, final_percent, final_stage
from app.models import ITEM_OPEN, JOB_LIVE, Job, JobStatus, iso, utcnow

log = logging.getLogger("app.pipeline")

FINAL_WRITE_PATIENCE = 30.0  # seconds the last record of a job is retried (Redis restarting)
RETAIN_FINISHED = 100
FINISHED_TTL = 7 * 24 * 3600
LIVE_TTL = 2 * 24 * 3600
PREFIX = "pixelglow:"


def item_json(item: Any) -> dict:
    """A job item as the API and the progress record show it (a JobItem row or the runner's copy)."""
    return {
        "modelId": item.model_id,
        "gender": item.gender,
        "index": item.example_index,
        "state": item.state,
        "predictionId": item.prediction_id,
        "error": item.error,
    }


_JSON_NAMES = {
    "job_id": "jobId",
    "preset_id": "presetId",
    "examples_per_model": "examplesPerModel",
    "created_at": "createdAt",
    "created_by": "createdBy",
    "finished_at": "finishedAt",
    "updated_at": "updatedAt",
    "regenerate_of": "regenerateOf",
}


@dataclass
class ProgressRecord:
    """A job's progress as the worker publishes it and the fragment and the job API read it.

    Built from the runner's state while a job runs, from the job's rows when there is no fresh
    record, and stored as JSON (camelCase, the API's spelling)."""

    job_id: str
    preset_id: str
    status: str
    percent: int = 0
    stage: str = ""
    message: str = ""
    done: int = 0
    failed: int = 0
    canceled: int = 0
    total: int = 0
    offline: bool = False
    examples_per_model: int | None = None
    items: list[dict] = field(default_factory=list)
    examples: list[dict] = field(default_factory=list)
    created_at: str | None = None
    created_by: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None
    regenerate_of: str | None = None  # the example a one-item regenerate job redoes

    def as_json(self) -> dict[str, Any]:
        return {_JSON_NAMES.get(f.name, f.name): getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict) -> ProgressRecord:
        names = {_JSON_NAMES.get(f.name, f.name): f.name for f in fields(cls)}
        values = {names[k]: v for k, v in data.items() if k in names and v is not None}
        values.setdefault("job_id", data.get("id", ""))
        values.setdefault("preset_id", "")
        values.setdefault("status", JobStatus.RUNNING)
        return cls(**values)

    @classmethod
    def from_job(cls, job: Job, updated_at: datetime | None = None) -> ProgressRecord:
        """The job as its rows tell it, for a job with no (fresh) record."""
        finished = sum(1 for i in job.items if i.state not in ITEM_OPEN)
        if job.status == JobStatus.QUEUED:
            percent, stage, message = 0, "queued", "Waiting for a worker to pick the job up"
        elif job.status in JOB_LIVE:
            percent, stage = 20 + int(60 * finished / (job.total or 1)), "running"
            message = f"{job.done} of {job.total} examples stored"
        else:
            percent, stage = final_percent(job.status, job.done, job.failed, job.total), final_stage(job.status)
            told = final_message(job.status, job.done, job.failed, job.total)
            message = told if job.status == JobStatus.CANCELED else job.error or told
        return cls(
            job_id=job.id,
            preset_id=job.preset_id,
            status=job.status,
            percent=percent,
            stage=stage,
            message=message,
            done=job.done,
            failed=job.failed,
            canceled=job.canceled,
            total=job.total,
            offline=job.offline,
            examples_per_model=job.examples_per_model,
            items=[item_json(i) for i in job.items],
            created_at=iso(job.created_at),
            created_by=job.created_by,
            finished_at=iso(job.finished_at),
            updated_at=iso(updated_at or job.heartbeat_at or job.created_at),
            regenerate_of=job.regenerate_of,
        )

    def api_json(self) -> dict[str, Any]:
        """What GET /api/admin/jobs/<id> answers."""
        keys = ("presetId", "status", "percent", "stage", "message", "done", "failed", "canceled", "total", "items")
        data = self.as_json()
        return {"id": self.job_id, **{k: data[k] for k in keys}} | {
            "createdAt": self.created_at,
            "createdBy": self.created_by,
            "finishedAt": self.finished_at,
            "offline": self.offline,
            "regenerateOf": self.regenerate_of,
        }

    def is_stale(self, stale_seconds: float) -> bool:
        """A live record nobody updated for a while (its worker died, or its last write was lost)."""
        if self.status not in JOB_LIVE:
            return False
        updated = parse_naive_utc(self.updated_at)
        if updated is None:
            return True
        return utcnow() - updated > timedelta(seconds=stale_seconds)

    @property
    def finished(self) -> bool:
        return self.status not in JOB_LIVE


class ProgressStore(Protocol):
    def write(self, job_id: str, record: dict, finished: bool = False) -> None: ...

    def read(self, job_id: str) -> dict | None: ...

    def delete(self, job_id: str) -> None: ...

    def beat(self, name: str, ttl: int) -> None: ...

    def stop_beating(self, name: str) -> None: ...

    def alive(self) -> list[str]: ...

    def ping(self) -> None: ...


def publish(store: ProgressStore, record: ProgressRecord) -> None:
    """Write a record. Progress is a mirror: a failed write is caught up by the next one. The final record
    has no next one, so it is retried for a while (Redis restarting) before the job is left to its rows."""
    finished = record.finished
    deadline = time.monotonic() + (FINAL_WRITE_PATIENCE if finished else 0)
    delay = 0.2
    while True:
        try:
            store.write(record.job_id, record.as_json(), finished=finished)
            return
        except Exception as exc:
            if time.monotonic() >= deadline:
                log.warning("job=%s progress not written: %s", record.job_id, exc)
                return
            time.sleep(delay)
            delay = min(2.0, delay * 2)


def read_record(store: ProgressStore, job_id: str) -> ProgressRecord | None:
    data = store.read(job_id)
    return ProgressRecord.from_json(data) if data else None


class RedisProgressStore:
    def __init__(self, url: str) -> None:
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

    def stop_beating(self, name: str) -> None:
        self.redis.delete(f"{PREFIX}heartbeat:{name}")

    def alive(self) -> list[str]:
        return [k.decode().rsplit(":", 1)[1] for k in self.redis.scan_iter(f"{PREFIX}heartbeat:*", count=100)]

    def ping(self) -> None:
        self.redis.ping()


class SqliteProgressStore:
    """The embedded store for a first run without Redis: one small table in instance/."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self._db = embedded_db(Path(path))

    def _put(self, conn: sqlite3.Connection, key: str, value: str, ttl: float, finished: float | None = None) -> None:
        conn.execute(
            "INSERT INTO progress (key, value, expires, finished) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE "
            "SET value = excluded.value, expires = excluded.expires, finished = excluded.finished",
            (key, value, time.time() + ttl, finished),
        )

    def write(self, job_id: str, record: dict, finished: bool = False) -> None:
        ttl = FINISHED_TTL if finished else LIVE_TTL
        value = json.dumps(record, separators=(",", ":"))
        with self._db.transaction() as conn:
            self._put(conn, f"progress:{job_id}", value, ttl, time.time() if finished else None)
            if finished:
                conn.execute(
                    "DELETE FROM progress WHERE finished IS NOT NULL AND key NOT IN "
                    "(SELECT key FROM progress WHERE finished IS NOT NULL ORDER BY finished DESC LIMIT ?)",
                    (RETAIN_FINISHED,),
                )

    def read(self, job_id: str) -> dict | None:
        rows = self._db.execute(
            "SELECT value FROM progress WHERE key = ? AND expires > ?", (f"progress:{job_id}", time.time())
        )
        return json.loads(rows[0][0]) if rows else None

    def delete(self, job_id: str) -> None:
        self._db.execute("DELETE FROM progress WHERE key = ?", (f"progress:{job_id}",))

    def beat(self, name: str, ttl: int) -> None:
        with self._db.connection() as conn:
            self._put(conn, f"heartbeat:{name}", str(time.time()), ttl)

    def stop_beating(self, name: str) -> None:
        self._db.execute("DELETE FROM progress WHERE key = ?", (f"heartbeat:{name}",))

    def alive(self) -> list[str]:
        rows = self._db.execute("SELECT key FROM progress WHERE key LIKE 'heartbeat:%' AND expires > ?", (time.time(),))
        return [r[0].split(":", 1)[1] for r in rows]

    def ping(self) -> None:
        self._db.check()


def make_progress_store(redis_url: str | None, instance_path: Path) -> ProgressStore:
    if redis_url:
        return RedisProgressStore(redis_url)
    return SqliteProgressStore(store_path(instance_path))
