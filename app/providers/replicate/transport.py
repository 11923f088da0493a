"""The replicate client's HTTP plumbing: `Cancel-After` on creates, its own retries turned off, and how
long to wait after a 429 or a failure."""

from __future__ import annotations

import logging
import random
import re

import httpx
import replicate
from replicate.exceptions import ReplicateError

log = logging.getLogger("app.providers.replicate.predictions")

CANCEL_AFTER_MIN = 5.0  # Replicate's smallest accepted Cancel-After


class CancelAfterTransport(httpx.BaseTransport):
    """Adds `Cancel-After: <timeout>s` to every create (POST …/predictions): client 1.0.7 has no parameter
    for it, but takes an httpx transport (`replicate.Client(transport=…)`), which it wraps in its retries."""

    def __init__(self, inner: httpx.BaseTransport, seconds: float) -> None:
        self.inner = inner
        self.value = f"{max(CANCEL_AFTER_MIN, seconds):.0f}s"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/predictions"):
            request.headers["Cancel-After"] = self.value
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def without_client_retries(client: replicate.Client) -> None:
    """The client retries GETs on 429/503 by itself (up to 10 times): calls that would bypass the
    read budget and hide the 429s. Our wait loop retries instead, so the client tries once."""
    transport = getattr(client._client, "_transport", None)
    if transport is not None and hasattr(transport, "max_attempts"):
        transport.max_attempts = 1
    else:
        log.warning("replicate client: could not turn off its own retries; reads may exceed the budget")


def backoff(attempt: int, base: float = 0.5, cap: float = 20.0) -> float:
    return min(cap, base * 2**attempt) * random.uniform(0.5, 1.0)


RESETS_IN = re.compile(r"resets in ~?\s*(\d+(?:\.\d+)?)\s*s", re.IGNORECASE)


def retry_after(error: ReplicateError) -> float | None:
    """Seconds to wait after a 429. The client's error keeps only the body, which says
    "Your rate limit resets in ~30s." (the Retry-After header itself is not exposed)."""
    match = RESETS_IN.search(error.detail or "")
    return float(match.group(1)) if match else None
