"""Counters that several processes add to and `/metrics` reads: Replicate calls (each consumer's) and webhook
deliveries (each web worker's). They live in one Redis hash, so any gunicorn worker on any machine answers a
scrape with the sum of every process's counts, and no consumer exposes an endpoint of its own. Totals since the
hash was created; Prometheus's `rate()` and `increase()` turn them into rates. Without Redis (the embedded
first-run setup) nothing is counted."""

from __future__ import annotations

import logging

from redis import Redis

log = logging.getLogger(__name__)

KEY = "pixelglow:metrics:counts"


class MetricCounts:
    def __init__(self, redis_client: Redis, key: str = KEY) -> None:
        self.redis = redis_client
        self.key = key

    def add(self, name: str, amount: int = 1) -> None:
        """Never raises: a count lost while Redis restarts only makes a graph dip."""
        try:
            self.redis.hincrby(self.key, name, amount)
        except Exception as exc:
            log.debug("metric %s not counted: %s", name, exc)

    def read(self) -> dict[str, int]:
        found = self.redis.hgetall(self.key)
        return {(n.decode() if isinstance(n, bytes) else n): int(v) for n, v in found.items()}
