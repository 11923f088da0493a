"""The replicate client's HTTP plumbing: `Cancel-After` on creates, its own retries turned off, and how
long to wait after a 429 or a failure."""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterator
from typing import Any

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


class AnswerTooLarge(Exception):
    """An answer from Replicate's API over the byte cap, refused unread: a retry would read it again."""


class CappedAnswers(httpx.BaseTransport):
    """Refuses an API answer over `max_bytes` (MAX_PREDICTION_BYTES): by its Content-Length before a byte is
    read, else counted while it streams in. A prediction's JSON carries its output inline when Replicate answers
    a `data:` URI, and its logs, so its size is the model's to choose; the client would hold it whole in memory."""

    def __init__(self, inner: httpx.BaseTransport, max_bytes: int) -> None:
        self.inner = inner
        self.max_bytes = max_bytes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        declared = response.headers.get("content-length", "")
        if declared.strip().isdecimal() and int(declared) > self.max_bytes:
            response.close()
            raise AnswerTooLarge(self.refusal(f"Content-Length {int(declared)} bytes"))
        stream = CappedStream(response.stream, self)
        return httpx.Response(
            response.status_code, headers=response.headers, stream=stream, extensions=response.extensions
        )

    def refusal(self, size: str) -> str:
        return f"Replicate's answer ({size}) is over the {self.max_bytes} byte limit (MAX_PREDICTION_BYTES)"

    def close(self) -> None:
        self.inner.close()


class CappedStream(httpx.SyncByteStream):
    """A response body that stops with AnswerTooLarge once it passes its transport's cap."""

    def __init__(self, inner: Any, owner: CappedAnswers) -> None:
        self.inner = inner
        self.owner = owner

    def __iter__(self) -> Iterator[bytes]:
        size = 0
        for chunk in self.inner:
            size += len(chunk)
            if size > self.owner.max_bytes:
                raise AnswerTooLarge(self.owner.refusal("more than that, stopped reading"))
            yield chunk

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


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
