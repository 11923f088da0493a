"""A limit on prediction creates shared by every consumer: at most N in any sliding window.

Replicate allows 600 creates a minute per account, and a 429 on create is not retried by
the client. Each create books a send time in a Redis sorted set (one atomic script, timed
by the Redis server's clock so machines need not agree on the time): now, while the
window has room, else exactly when the create N places back leaves the window. A burst
under the budget goes out at once; past it, each worker sleeps until its own booked time
instead of all waiting threads waking and retrying whenever a slot frees. Without Redis
(the embedded first-run setup, one consumer) the same bookings live in memory.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from bisect import insort

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

# Replicate counts creates when they arrive; we count them when a worker may send. Arrival can
# lag the booking by up to about a second under load, so our window is a second longer than
# Replicate's 60 s: its window then never sees more than the limit.
WINDOW_SECONDS = 61.0
KEY = "pixelglow:create-window"

# KEYS[1] the bookings; ARGV: limit, window (s), member. Returns the seconds until the booked time.
_BOOK = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local at = now
if count >= limit then
  local nth = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  at = math.max(now, tonumber(nth[2]) + window)
end
redis.call('ZADD', KEYS[1], at, ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(at - now + window) + 1)
return tostring(at - now)
"""


def booked_time(bookings: list[float], now: float, limit: int, window: float) -> float:
    """When a new create may go, given the sorted bookings still inside or after the window."""
    if len(bookings) < limit:
        return now
    return max(now, bookings[len(bookings) - limit] + window)


class SlidingWindowLimiter:
    def book(self) -> tuple[float, object]:
        """Book a send time: (seconds to wait, a handle to cancel the booking)."""
        raise NotImplementedError

    def cancel(self, handle) -> None:
        raise NotImplementedError

    def acquire(self, stop: threading.Event) -> bool:
        """Wait until this create's booked time; False (booking released) when `stop` is set meanwhile."""
        wait, handle = self.book()
        if wait > 0 and stop.wait(wait):
            self.cancel(handle)
            return False
        return True


class RedisCreateLimiter(SlidingWindowLimiter):
    def __init__(self, redis_client, per_minute: int, window: float = WINDOW_SECONDS, key: str = KEY):
        self.redis = redis_client
        self.limit = per_minute
        self.window = window
        self.key = key
        self._script = redis_client.register_script(_BOOK)
        self._fallback = LocalCreateLimiter(per_minute, window)

    def book(self) -> tuple[float, object]:
        """While Redis is unreachable (a restart), this process keeps to the limit on its own."""
        member = uuid.uuid4().hex
        try:
            return float(self._script(keys=[self.key], args=[self.limit, self.window, member])), member
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("create limit: Redis unreachable (%s); limiting this process alone", exc.__class__.__name__)
            return self._fallback.book()

    def cancel(self, handle) -> None:
        try:
            if isinstance(handle, str):
                self.redis.zrem(self.key, handle)
            else:
                self._fallback.cancel(handle)
        except (RedisConnectionError, RedisTimeoutError):
            pass


class LocalCreateLimiter(SlidingWindowLimiter):
    """The same bookings for a single process (no Redis configured)."""

    def __init__(self, per_minute: int, window: float = WINDOW_SECONDS):
        self.limit = per_minute
        self.window = window
        self._bookings: list[float] = []
        self._lock = threading.Lock()

    def book(self) -> tuple[float, object]:
        with self._lock:
            now = time.monotonic()
            expired = 0
            while expired < len(self._bookings) and self._bookings[expired] <= now - self.window:
                expired += 1
            del self._bookings[:expired]
            at = booked_time(self._bookings, now, self.limit, self.window)
            insort(self._bookings, at)
            return at - now, at

    def cancel(self, handle) -> None:
        with self._lock:
            try:
                self._bookings.remove(handle)
            except ValueError:
                pass
