"""Completions told by Replicate's webhooks, handed from the web process to the waiting item.

The webhook arrives at the web process; the item that waits for its prediction is a thread in a
consumer. The handler records the prediction JSON it received, keyed by prediction id, and wakes
the waiter: in Redis (a key with a TTL, and a message on one pub/sub channel that a listener thread
per consumer turns into the waiting thread's event), or in the embedded SQLite file (the waiter
looks every POLL_SECONDS). Recording is idempotent on the delivery (`webhook-id`) and on the
prediction: the first completion of a prediction wins, repeats and late deliveries change nothing.

The generator also notes each prediction it creates (`expect`), so a delivery for a prediction
this app never made is told apart (acknowledged and logged by the handler).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis
from redis.exceptions import RedisError

from app.jobs.embedded_store import embedded_db, store_path

log = logging.getLogger(__name__)

PREFIX = "pixelglow:hook:"
CHANNEL = PREFIX + "completed"
TTL = 2 * 3600  # longer than a prediction may run (PREDICTION_TIMEOUT) plus Replicate's retries
RECHECK_SECONDS = 1.0  # a waiter looks at the store at least this often (a wake-up lost in a reconnect)
POLL_SECONDS = 0.15  # the embedded store has no wake-up: its waiters look this often

RECORDED, REPEAT = "recorded", "repeat"

# KEYS: delivery, prediction; ARGV: prediction JSON, ttl, channel, prediction id.
# 0: this delivery was seen; 1: recorded (and published); 2: the prediction was already recorded.
_RECORD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[2])
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 1
end
return 2
"""


def wait_for(
    get: Callable[[str], dict | None],
    prediction_id: str,
    timeout: float,
    stop: threading.Event,
    pause: Callable[[float], object],
) -> dict | None:
    """Look for the prediction's completion until it is there, the timeout passes or the job stops;
    `pause(remaining)` sleeps between looks (woken early by a notification where there is one)."""
    end = time.monotonic() + timeout
    while True:
        found = get(prediction_id)
        remaining = end - time.monotonic()
        if found is not None or remaining <= 0 or stop.is_set():
            return found
        pause(remaining)


class RedisCompletions:
    def __init__(self, url: str) -> None:
        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)
        self._record = self.redis.register_script(_RECORD)
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._listener: threading.Thread | None = None
        self._subscribed = threading.Event()

    # -- the web process --------------------------------------------------------
    def record(self, webhook_id: str, prediction_id: str, prediction: dict) -> str:
        body = json.dumps(prediction, separators=(",", ":"))
        keys = [f"{PREFIX}delivery:{webhook_id}", f"{PREFIX}prediction:{prediction_id}"]
        outcome = int(self._record(keys=keys, args=[body, TTL, CHANNEL, prediction_id]))
        return RECORDED if outcome == 1 else REPEAT

    def expected(self, prediction_id: str) -> bool:
        return bool(self.redis.exists(f"{PREFIX}expect:{prediction_id}"))

    # -- the consumer -----------------------------------------------------------
    def expect(self, prediction_id: str) -> None:
        try:
            self.redis.set(f"{PREFIX}expect:{prediction_id}", "1", ex=TTL)
        except RedisError as exc:  # only the handler's log line depends on it
            log.warning("could not note prediction %s as expected: %s", prediction_id, exc)

    def get(self, prediction_id: str) -> dict | None:
        try:
            raw = self.redis.get(f"{PREFIX}prediction:{prediction_id}")
        except RedisError as exc:  # Redis restarting: the fallback poll still reads the prediction
            log.warning("could not look for the completion of %s: %s", prediction_id, exc)
            return None
        return json.loads(raw) if raw else None

    def wait(self, prediction_id: str, timeout: float, stop: threading.Event) -> dict | None:
        """The recorded completion of `prediction_id`, waiting up to `timeout` s for it (None: not yet)."""
        self.start()
        event = threading.Event()
        with self._lock:
            self._events[prediction_id] = event

        def pause(remaining: float) -> None:
            event.wait(min(remaining, RECHECK_SECONDS))
            event.clear()

        try:
            return wait_for(self.get, prediction_id, timeout, stop, pause)
        finally:
            with self._lock:
                if self._events.get(prediction_id) is event:
                    del self._events[prediction_id]

    def start(self, timeout: float = 0.0) -> None:
        """Start this process's listener (once); wait up to `timeout` s until it is subscribed."""
        with self._lock:
            if self._listener is None:
                self._listener = threading.Thread(target=self._listen, name="webhook-listener", daemon=True)
                self._listener.start()
        if timeout:
            self._subscribed.wait(timeout)

    def _listen(self) -> None:
        while True:
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                self._subscribed.set()
                while True:
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        self._wake(message["data"].decode())
            except RedisError as exc:  # waiters recheck the store meanwhile
                log.warning("webhook listener: %s; subscribing again", exc)
                self._subscribed.clear()
                time.sleep(1.0)

    def _wake(self, prediction_id: str) -> None:
        with self._lock:
            event = self._events.get(prediction_id)
        if event is not None:
            event.set()


class SqliteCompletions:
    """The embedded store's version: one table in the progress file, shared by the web process and consumer."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self._db = embedded_db(Path(path))

    def _insert(self, conn: sqlite3.Connection, key: str, value: str) -> bool:
        now = time.time()
        conn.execute("DELETE FROM hooks WHERE key = ? AND expires <= ?", (key, now))
        cursor = conn.execute(
            "INSERT OR IGNORE INTO hooks (key, value, expires) VALUES (?, ?, ?)", (key, value, now + TTL)
        )
        return cursor.rowcount == 1

    def record(self, webhook_id: str, prediction_id: str, prediction: dict) -> str:
        with self._db.transaction() as conn:
            fresh = self._insert(conn, f"delivery:{webhook_id}", "1") and self._insert(
                conn, f"prediction:{prediction_id}", json.dumps(prediction, separators=(",", ":"))
            )
        return RECORDED if fresh else REPEAT

    def _value(self, key: str) -> str | None:
        rows = self._db.execute("SELECT value FROM hooks WHERE key = ? AND expires > ?", (key, time.time()))
        return rows[0][0] if rows else None

    def expected(self, prediction_id: str) -> bool:
        return self._value(f"expect:{prediction_id}") is not None

    def expect(self, prediction_id: str) -> None:
        with self._db.transaction() as conn:
            self._insert(conn, f"expect:{prediction_id}", "1")

    def get(self, prediction_id: str) -> dict | None:
        raw = self._value(f"prediction:{prediction_id}")
        return json.loads(raw) if raw else None

    def wait(self, prediction_id: str, timeout: float, stop: threading.Event) -> dict | None:
        return wait_for(
            self.get, prediction_id, timeout, stop, lambda remaining: stop.wait(min(remaining, POLL_SECONDS))
        )

    def start(self, timeout: float = 0.0) -> None:
        pass


CompletionStore = RedisCompletions | SqliteCompletions


def make_completions(redis_url: str | None, instance_path: Path) -> CompletionStore:
    if redis_url:
        return RedisCompletions(redis_url)
    return SqliteCompletions(store_path(instance_path))
