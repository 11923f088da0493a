"""A limit on prediction creates shared by every consumer: at most N in any sliding 60 s window.

Replicate allows 600 creates a minute per account, and a 429 on create is not retried by
the client. A sliding window log in Redis (one sorted set, one atomic script per create,
timed by the Redis server's clock so machines need not agree on the time) lets a burst
under the budget go out at once and makes workers wait, rather than draw 429s, once the
budget is spent. Without Redis (the embedded first-run setup, one consumer) the same
window lives in memory.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
import uuid

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

# Replicate counts creates when they arrive; we count them when a worker is allowed to send.
# Arrival order can lag the grant by up to about a second under load, so our window is a
# second longer than Replicate's: its 60 s window then never sees more than the limit.
WINDOW_SECONDS = 61.0
KEY = "pixelglow:create-window"

# KEYS[1] the window; ARGV: limit, window (s), member. Returns 0 when a slot was taken, else seconds to wait.
_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""


class SlidingWindowLimiter:
    def try_acquire(self) -> float:
        raise NotImplementedError

    def acquire(self, stop: threading.Event) -> bool:
        """Wait for a slot; False when `stop` was set while waiting."""
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                return True
            if stop.wait(min(wait, 5.0) + 0.005):
                return False


class RedisCreateLimiter(SlidingWindowLimiter):
    def __init__(self, redis_client, per_minute: int, window: float = WINDOW_SECONDS, key: str = KEY):
        self.redis = redis_client
        self.limit = per_minute
        self.window = window
        self.key = key
        self._script = redis_client.register_script(_ACQUIRE)
        self._fallback = LocalCreateLimiter(per_minute, window)

    def try_acquire(self) -> float:
        """0 when a create may go now (and is counted), else the seconds until a slot frees.

        While Redis is unreachable (a restart), this process keeps to the limit on its own
        rather than stopping its jobs.
        """
        try:
            return float(self._script(keys=[self.key], args=[self.limit, self.window, uuid.uuid4().hex]))
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("create limit: Redis unreachable (%s); limiting this process alone", exc.__class__.__name__)
            return self._fallback.try_acquire()


class LocalCreateLimiter(SlidingWindowLimiter):
    """The same sliding window for a single process (no Redis configured)."""

    def __init__(self, per_minute: int, window: float = WINDOW_SECONDS):
        self.limit = per_minute
        self.window = window
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def try_acquire(self) -> float:
        with self._lock:
            now = time.monotonic()
            while self._times and self._times[0] <= now - self.window:
                self._times.popleft()
            if len(self._times) < self.limit:
                self._times.append(now)
                return 0.0
            return self._times[0] + self.window - now
