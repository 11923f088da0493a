"""Replicate's account limits shared by every consumer: never more than N calls in any 60 s window.

Replicate allows 600 creates a minute per account and 3000 a minute for every other call (polls,
cancels, model reads); a 429 on create is not retried by the client. Each limit is a token bucket
(GCRA) under its own Redis key: the create limit, and the read budget (every other call).
A burst of up to BURST calls goes out at once, then calls flow at a steady rate chosen so that
burst + rate × window never exceeds N in any window. Each call books its own send time in one
atomic Redis script (timed by the Redis server's clock, so machines need not agree on the time)
and its worker sleeps exactly until then: no thundering herd of retries, and the rate holds
steady once the queue is full instead of a minute's budget going out in one burst
followed by a dead minute. Without Redis (the embedded first-run setup, one consumer)
the same bookings are kept in memory.
"""

from __future__ import annotations

import logging
import threading
import time

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
# Replicate counts creates when they arrive, up to about a second after we send them under load:
# the rate is computed for a window one second longer, so Replicate's 60 s never sees more than N.
ARRIVAL_MARGIN = 1.0
BURST = 20
# Our creates start with a burst a little smaller than the account's (Replicate tolerates short bursts,
# its test double 20): with 20 against 20, the 21st create drew a 429 whenever it arrived even a few ms
# earlier, relative to the first, than booked. 18 leaves 0.2 s of slack at 600 a minute.
CREATE_BURST = 18
KEY = "pixelglow:create-bucket"
READ_KEY = "pixelglow:read-bucket"

# KEYS[1] the bucket's theoretical arrival time; ARGV: emission interval, burst tolerance (s).
# Returns the seconds until this create's booked send time.
_BOOK = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local send_at = tat - tolerance
if send_at < now + 0.000001 then send_at = now end
redis.call('SET', KEYS[1], tostring(tat + interval), 'EX', math.ceil(tat + interval - now) + 60)
return tostring(send_at - now)
"""


def bucket_shape(per_window: int, window: float = WINDOW_SECONDS, burst: int = BURST) -> tuple[float, float]:
    """(emission interval, burst tolerance) so that burst + rate × (window + margin) ≤ per_window."""
    burst = max(1, min(burst, per_window // 3))
    rate = (per_window - burst) / (window + ARRIVAL_MARGIN)
    interval = 1.0 / rate
    return interval, (burst - 1) * interval


def book(tat: float, now: float, interval: float, tolerance: float) -> tuple[float, float]:
    """GCRA booking: (send time, new theoretical arrival time)."""
    tat = max(tat, now)
    send_at = tat - tolerance
    return (now if send_at < now + 1e-6 else send_at), tat + interval


class TokenBucket:
    """One shared bucket (creates, or the read budget): callers book a send time and sleep until it."""

    def book(self) -> float:
        """Book a send time; returns the seconds to wait for it."""
        raise NotImplementedError

    def acquire(self, stop: threading.Event) -> bool:
        """Wait until this call's booked time; False when `stop` is set meanwhile (the slot is forfeited)."""
        wait = self.book()
        return not (wait > 0 and stop.wait(wait))


class RedisTokenBucket(TokenBucket):
    def __init__(self, redis_client: Redis, per_minute: int, key: str = KEY, burst: int = BURST) -> None:
        self.redis = redis_client
        self.key = key
        self.interval, self.tolerance = bucket_shape(per_minute, burst=burst)
        self._script = redis_client.register_script(_BOOK)
        self._fallback = LocalTokenBucket(per_minute, burst=burst)

    def warm_up(self) -> None:
        """Open the connection and load the script (at consumer start, off the first job's clock)."""
        self.redis.script_load(_BOOK)

    def tokens_left(self) -> float:
        """Calls that could go out at once now (0 to the burst): what the bucket's arrival time leaves."""
        seconds, micros = self.redis.time()
        raw = self.redis.get(self.key)
        tat = max(float(raw) if raw else 0.0, seconds + micros / 1e6)
        return max(0.0, (seconds + micros / 1e6 + self.tolerance - tat) / self.interval + 1)

    def book(self) -> float:
        """While Redis is unreachable (a restart), this process keeps to the limit on its own."""
        try:
            return float(self._script(keys=[self.key], args=[self.interval, self.tolerance]))
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("%s: Redis unreachable (%s); limiting this process alone", self.key, exc.__class__.__name__)
            return self._fallback.book()


class LocalTokenBucket(TokenBucket):
    """The same bucket for a single process (no Redis configured)."""

    def __init__(self, per_minute: int, burst: int = BURST) -> None:
        self.interval, self.tolerance = bucket_shape(per_minute, burst=burst)
        self._tat = 0.0
        self._lock = threading.Lock()

    def book(self) -> float:
        with self._lock:
            now = time.monotonic()
            send_at, self._tat = book(self._tat, now, self.interval, self.tolerance)
            return send_at - now
