"""Account limits: Replicate's 600 creates and 3000 other API calls a minute (token buckets, short bursts
tolerated), the older strict sliding window on creates, random and timed 429 storms; and the record of calls."""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

from tests.replicate_server.plumbing import Reply


class Call(NamedTuple):
    """One API call as the account limits see it (file downloads are not API calls)."""

    time: float  # time.monotonic() when it arrived
    kind: str  # "create" (600/min on Replicate) or "read" (every other API call, 3000/min)
    endpoint: str  # "predictions.create", "predictions.get", "predictions.cancel", "predictions.list",
    # "models.get", "models.versions.get", "models.versions.list",
    # "webhooks.default.secret", "other"
    throttled: bool  # answered 429


class Bucket:
    """Token bucket: ``burst`` tokens, refilled at ``per_minute / 60`` a second, starting full."""

    __slots__ = ("burst", "params", "rate", "stamp", "tokens")

    def __init__(self, per_minute: float, burst: float, now: float) -> None:
        self.params = (per_minute, burst)
        self.rate = max(0.0, float(per_minute)) / 60.0
        self.burst = max(1.0, float(burst))
        self.tokens = self.burst
        self.stamp = now

    def take(self, now: float) -> float | None:
        """Take one token: None when taken, else the seconds until one is there."""
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        if self.rate <= 0:
            return 60.0
        return (1.0 - self.tokens) / self.rate


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of ``values``; None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def fmt_seconds(value: float) -> str:
    """Retry-After value: integer string when whole, else a short decimal."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def throttled_reply(wait: float, header: str | None = None) -> Reply:
    """The 429 Replicate sends: "resets in ~Ns" with N the whole seconds to wait (at least 1)."""
    seconds = max(1, math.ceil(wait - 1e-6))
    return Reply(
        429,
        {"detail": f"Request was throttled. Your rate limit resets in ~{seconds}s.", "status": 429},
        headers={"Retry-After": header or str(seconds)},
    )


def busiest_window(times, seconds: float = 60.0) -> int:
    """Max number of events inside any half-open window of ``seconds``."""
    times = sorted(times)
    best = j = 0
    for i, t in enumerate(times):
        while times[j] <= t - seconds:
            j += 1
        best = max(best, i - j + 1)
    return best


class AccountLimits:
    """The limits every API call passes (file downloads are not API calls); knobs reset with the server."""

    _lock: threading.RLock

    def _reset_limits(self) -> None:
        self.throttle_rate = 0.0  # share of creates answered 429 at random (Retry-After: retry_after)
        self.rate_limit_per_minute: int | None = None
        self.rate_window = 60.0  # seconds of the sliding window (tests may shrink it)
        # Token buckets (None = off): Replicate allows 600 creates and 3000 other API calls a minute.
        self.create_limit_per_minute: float | None = None
        self.create_burst: float = 20
        self.read_limit_per_minute: float | None = None
        self.read_burst: float = 20
        self.create_throttle_until = 0.0  # time.monotonic() until which every create gets 429
        self.read_throttle_until = 0.0  # time.monotonic() until which every read gets 429
        self.throttled = 0  # creates answered 429 (any cause)
        self.read_throttled = 0  # reads answered 429 (any cause)
        self.calls: list[Call] = []
        self._window: collections.deque[float] = collections.deque()
        self._buckets: dict[str, Bucket] = {}

    def throttle_reads_for(self, seconds: float) -> None:
        """Answer 429 to every read (every API call but create) for the next ``seconds``."""
        with self._lock:
            self.read_throttle_until = time.monotonic() + float(seconds)

    throttle_reads_until = throttle_reads_for  # the name used in the brief

    def throttle_creates_for(self, seconds: float) -> None:
        """Answer 429 to every create for the next ``seconds``."""
        with self._lock:
            self.create_throttle_until = time.monotonic() + float(seconds)

    def call_times(
        self, kind: str | None = None, endpoint: str | None = None, throttled: bool | None = None
    ) -> list[float]:
        """Monotonic arrival times of the API calls that match (None matches anything)."""
        with self._lock:
            calls = list(self.calls)
        return [
            c.time
            for c in calls
            if (kind is None or c.kind == kind)
            and (endpoint is None or c.endpoint == endpoint)
            and (throttled is None or c.throttled == throttled)
        ]

    def call_counts(self) -> dict[str, Any]:
        """Per-kind API call counts: what a benchmark prints as "calls per example" and "429s".

        ``creates``: accepted creates (201); ``create_calls``: create calls that reached the
        limiter (accepted, 429 or later refused by validation); ``create_429s``; ``reads``:
        admitted reads; ``read_429s``; ``reads_by_endpoint`` / ``read_429s_by_endpoint``;
        ``api_calls``: every call counted against a limit; ``gets``, ``cancels``, ``downloads``
        (file downloads are not API calls).
        """
        with self._lock:
            calls = list(self.calls)
            out: dict[str, Any] = {
                "creates": len(self.creates),
                "gets": self.gets,
                "cancels": len(self.cancels),
                "downloads": self.downloads,
                "create_429s": self.throttled,
                "read_429s": self.read_throttled,
            }
        by_ep: collections.Counter[str] = collections.Counter()
        by_ep_429: collections.Counter[str] = collections.Counter()
        create_calls = 0
        for c in calls:
            if c.kind == "create":
                create_calls += 1
            elif c.throttled:
                by_ep_429[c.endpoint] += 1
            else:
                by_ep[c.endpoint] += 1
        out.update(
            create_calls=create_calls,
            reads=sum(by_ep.values()),
            reads_by_endpoint=dict(by_ep),
            read_429s_by_endpoint=dict(by_ep_429),
            api_calls=len(calls),
        )
        return out

    def _bucket(self, kind: str, now: float) -> Bucket | None:
        """The token bucket of ``kind`` for the current knob values (None when that limit is off)."""
        if kind == "create":
            params = (self.create_limit_per_minute, self.create_burst)
        else:
            params = (self.read_limit_per_minute, self.read_burst)
        if params[0] is None:
            self._buckets.pop(kind, None)
            return None
        bucket = self._buckets.get(kind)
        if bucket is None or bucket.params != params:
            bucket = self._buckets[kind] = Bucket(params[0], params[1], now)
        return bucket

    def _admit_create(self) -> None:
        """Create limits: 429 storm, sliding window, random throttling, token bucket. Raises a 429."""
        with self._lock:
            now = time.monotonic()
            limit = self.rate_limit_per_minute
            window = self._window
            span = self.rate_window
            while window and window[0] <= now - span:
                window.popleft()
            wait: float | None = None
            header: str | None = None
            if now < self.create_throttle_until:
                wait = self.create_throttle_until - now
            elif limit is not None and len(window) >= limit:
                # the slot frees when the create `limit` places back leaves the window
                oldest = window[len(window) - limit] if limit > 0 else now + span
                wait = max(1, math.ceil(oldest + span - now))
            elif self.throttle_rate > 0 and self._rng.random() < self.throttle_rate:
                wait = self.retry_after
                header = fmt_seconds(self.retry_after)
            else:
                bucket = self._bucket("create", now)
                if bucket is not None:
                    wait = bucket.take(now)
            self.calls.append(Call(now, "create", "predictions.create", wait is not None))
            if wait is None:
                return
            self.throttled += 1
        raise throttled_reply(wait, header)

    def _admit_read(self, endpoint: str) -> None:
        """Read limit (every API call but create): 429 storm, then token bucket. Raises a 429."""
        with self._lock:
            now = time.monotonic()
            wait: float | None = None
            if now < self.read_throttle_until:
                wait = self.read_throttle_until - now
            else:
                bucket = self._bucket("read", now)
                if bucket is not None:
                    wait = bucket.take(now)
            self.calls.append(Call(now, "read", endpoint, wait is not None))
            if wait is None:
                return
            self.read_throttled += 1
        raise throttled_reply(wait)
