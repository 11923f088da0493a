"""Running one prediction on Replicate and copying its output into our storage.

Uses `predictions.create` and our own wait loop with a deadline (`run()` can return
None and `wait()` has no timeout). Each fault is handled on its own terms: a 429 on
create waits for Retry-After and does not count as a failure (the client does not
retry POSTs); 5xx and connection errors back off with jitter, a bounded number of
times; a prediction that fails, is canceled or aborted fails that model only; one
that passes its deadline is canceled at Replicate; a failed download is retried
without creating a new prediction.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable

import httpx
import replicate
from pydantic.v1 import ValidationError as PydanticV1ValidationError
from replicate.exceptions import ReplicateError

from ..storage.base import Storage, example_key
from .base import ItemFailed, ItemResult, ItemSpec, Stopped
from .catalog import Provider, get_provider
from .downloads import DownloadFailed, DownloadRefused, SafeDownloader

log = logging.getLogger(__name__)

TRANSIENT_RETRIES = 5
DOWNLOAD_RETRIES = 5
MAX_THROTTLE_WAIT = 120.0


FINISHED = frozenset({"succeeded", "failed", "canceled", "aborted"})


class TransientReadError(Exception):
    """A read of a prediction failed in a way that may pass (5xx, 429, network)."""


class NoLimit:
    def acquire(self, stop: threading.Event) -> bool:
        return True


def _backoff(attempt: int, base: float = 0.5, cap: float = 20.0) -> float:
    return min(cap, base * 2**attempt) * random.uniform(0.5, 1.0)


RESETS_IN = re.compile(r"resets in ~?\s*(\d+(?:\.\d+)?)\s*s", re.IGNORECASE)


def _retry_after(error: ReplicateError) -> float | None:
    """Seconds to wait after a 429. The client's error keeps only the body, which says
    "Your rate limit resets in ~30s." (the Retry-After header itself is not exposed)."""
    match = RESETS_IN.search(error.detail or "")
    return float(match.group(1)) if match else None


class ReplicateGenerator:
    offline = False

    def __init__(
        self,
        client: replicate.Client,
        storage: Storage,
        *,
        sd_version: str,
        deadline: float = 600.0,
        poll_interval: float = 0.2,
        limiter=None,
        downloader: SafeDownloader | None = None,
    ):
        self.client = client
        self.storage = storage
        self.sd_version = sd_version
        self.deadline = deadline
        self.poll_interval = poll_interval
        self.limiter = limiter or NoLimit()
        self.downloader = downloader or SafeDownloader()
        # The client builds its HTTP connection pool on first use, without a lock: build it here,
        # once, rather than in twenty item threads at the same moment.
        _ = client._client

    # -- one item -------------------------------------------------------------
    def run(self, spec: ItemSpec, on_created: Callable[[str], None], stop: threading.Event) -> ItemResult:
        provider = get_provider(spec.provider)
        prediction_id = spec.prediction_id
        if prediction_id is None:
            payload = provider.build_input(spec.prompt, spec.reference_url, spec.settings)
            prediction_id = self._create(provider, payload, stop)
            on_created(prediction_id)
        status, output, error = self._wait(prediction_id, stop)
        if status != "succeeded":
            raise ItemFailed(error)
        urls = provider.output_urls(output)
        if not urls:
            raise ItemFailed(f"prediction {prediction_id} succeeded without an output")
        key = self._download(urls[0], spec, stop)
        return ItemResult(image_key=key, prediction_id=prediction_id)

    def _create(self, provider: Provider, payload: dict, stop: threading.Event) -> str:
        transient = 0
        throttled_since = None
        while True:
            if not self.limiter.acquire(stop):
                raise Stopped()
            try:
                if provider.by_version:
                    prediction = self.client.predictions.create(version=self.sd_version, input=payload)
                else:
                    prediction = self.client.models.predictions.create(model=provider.model, input=payload)
                return prediction.id
            except ReplicateError as exc:
                if exc.status == 429:
                    throttled_since = throttled_since or time.monotonic()
                    if time.monotonic() - throttled_since > MAX_THROTTLE_WAIT:
                        raise ItemFailed(f"Replicate kept throttling creates for {MAX_THROTTLE_WAIT:.0f} s") from None
                    wait = _retry_after(exc) or _backoff(transient)
                    log.info("create throttled (429); waiting %.1f s", wait)
                    self._sleep(wait, stop)
                    continue
                if exc.status and exc.status >= 500 and transient < TRANSIENT_RETRIES:
                    transient += 1
                    self._sleep(_backoff(transient), stop)
                    continue
                raise ItemFailed(
                    f"Replicate refused the prediction ({exc.status}): {exc.detail or exc.title}"
                ) from None
            except (httpx.TransportError, PydanticV1ValidationError) as exc:
                if transient < TRANSIENT_RETRIES:
                    transient += 1
                    self._sleep(_backoff(transient), stop)
                    continue
                raise ItemFailed(f"could not reach Replicate to create the prediction: {exc}") from None

    def _wait(self, prediction_id: str, stop: threading.Event) -> tuple[str, object, str | None]:
        started = time.monotonic()
        deadline = started + self.deadline
        delay = min(0.1, self.poll_interval)
        transient = 0
        while True:
            try:
                status, output, error = self._read(prediction_id)
                transient = 0
            except TransientReadError as exc:
                if transient >= TRANSIENT_RETRIES:
                    return "failed", None, str(exc)
                transient += 1
                self._sleep(_backoff(transient), stop)
                continue
            if status in FINISHED:
                return status, output, error
            if time.monotonic() > deadline:
                self._cancel(prediction_id)
                return (
                    "failed",
                    None,
                    f"prediction {prediction_id} did not finish within {self.deadline:.0f} s; canceled",
                )
            self._sleep(delay, stop)
            delay = min(self._poll_cap(time.monotonic() - started), delay * 1.5)

    def _read(self, prediction_id: str) -> tuple[str, object, str | None]:
        """One read of the prediction: (status, output, error); TransientReadError when it is worth trying again."""
        try:
            prediction = self.client.predictions.get(prediction_id)
        except PydanticV1ValidationError:
            # client 1.0.7 cannot parse the documented "aborted" status
            return "aborted", None, f"prediction {prediction_id} was aborted by Replicate"
        except ReplicateError as exc:
            if exc.status == 404:
                return "failed", None, f"prediction {prediction_id} no longer exists at Replicate"
            reason = f"could not read prediction {prediction_id} ({exc.status}): {exc.detail}"
            if exc.status is None or exc.status >= 500 or exc.status == 429:
                raise TransientReadError(reason) from None
            return "failed", None, reason
        except httpx.TransportError as exc:
            raise TransientReadError(f"could not reach Replicate to read prediction {prediction_id}: {exc}") from None
        if prediction.status == "failed":
            return "failed", None, f"prediction failed: {prediction.error or 'no reason given'}"
        if prediction.status == "canceled":
            return "canceled", None, "prediction was canceled"
        return prediction.status, prediction.output, None

    def _poll_cap(self, waited: float) -> float:
        """Poll briskly while a prediction is young (most finish in seconds), gently once it runs long."""
        if waited < 10:
            return self.poll_interval
        return max(self.poll_interval, 1.0 if waited < 60 else 2.0)

    def _download(self, url: str, spec: ItemSpec, stop: threading.Event) -> str:
        """Copy the output into storage through the safe downloader: a refused output (not https, a private
        address, too large, not an image) fails this model at once; a transient failure is retried."""
        last_error = None
        for attempt in range(DOWNLOAD_RETRIES):
            try:
                with self.downloader.download(url) as image:
                    key = example_key(spec.preset_id, spec.job_id, spec.model_id, spec.index, image.extension)
                    self.storage.save_stream(key, image.chunks())
                    return key
            except DownloadRefused as exc:
                raise ItemFailed(f"the output was refused: {exc}") from None
            except DownloadFailed as exc:
                last_error = str(exc)
            self._sleep(_backoff(attempt, base=0.25, cap=5.0), stop)
        raise ItemFailed(f"could not download the output after {DOWNLOAD_RETRIES} tries ({last_error})")

    def cancel(self, prediction_id: str) -> None:
        self._cancel(prediction_id)

    def _cancel(self, prediction_id: str) -> None:
        try:
            self.client.predictions.cancel(prediction_id)
        except (ReplicateError, httpx.HTTPError, PydanticV1ValidationError) as exc:
            log.warning("could not cancel prediction %s: %s", prediction_id, exc)

    @staticmethod
    def _sleep(seconds: float, stop: threading.Event) -> None:
        if stop.wait(seconds):
            raise Stopped()
