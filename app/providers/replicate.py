"""Running one prediction on Replicate and copying its output into our storage.

Uses `predictions.create` and our own wait loop with a deadline (`run()` can return
None and `wait()` has no timeout). Each fault is handled on its own terms: a 429 on
create waits for Retry-After and does not count as a failure (the client does not
retry POSTs); 5xx and connection errors back off with jitter, a bounded number of
times; a prediction that fails, is canceled or aborted fails that model only; one
that passes its deadline is canceled at Replicate; a failed download is retried
without creating a new prediction.

Reads (polls, cancels) spend the account's read budget, shared by every consumer: each
read takes a token from it first, and is planned for when the prediction is likely done
(`read_plan`). A read that fails (429, 5xx, network) is tried again until the item's
deadline: a read never fails an already-billed prediction. The client's own retries of
GETs are turned off, so that every call to Replicate goes through the budget.

With a webhook URL (PUBLIC_BASE_URL), each create asks Replicate to POST the finished prediction
to us; the web process records it and wakes the item (`completions`), which then downloads
without reading the prediction at all. A read every `fallback_poll` seconds (about 30) catches a
webhook that never comes. Every create carries `Cancel-After` (the prediction timeout), added by
our HTTP transport since the client has no parameter for it: a prediction that never started
ends `aborted` at Replicate, unbilled, even when no consumer is left to cancel it.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import replicate
from pydantic.v1 import ValidationError as PydanticV1ValidationError
from replicate.exceptions import ReplicateError
from replicate.webhook import WebhookSigningSecret

from ..storage.base import Storage, example_key
from .base import ItemFailed, ItemResult, ItemSpec, Stopped
from .catalog import Provider, get_provider
from .downloads import DownloadFailed, DownloadRefused, SafeDownloader
from .read_plan import Plan, Planner

log = logging.getLogger(__name__)

TRANSIENT_RETRIES = 5
DOWNLOAD_RETRIES = 5
MAX_THROTTLE_WAIT = 120.0
REPLAN_SECONDS = 0.25
CANCEL_AFTER_MIN = 5.0  # Replicate's smallest accepted Cancel-After
DEADLINE_GRACE = 2.0  # with Cancel-After, Replicate ends a late prediction first; we look this much later
WEBHOOK_TOLERANCE = 300  # seconds a webhook's timestamp may be away from our clock
WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


FINISHED = frozenset({"succeeded", "failed", "canceled", "aborted"})


class TransientReadError(Exception):
    """A read of a prediction failed in a way that may pass (5xx, 429, network)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after  # set on a 429: the reset hint


class NoLimit:
    def acquire(self, stop: threading.Event) -> bool:
        return True


class NoCount:
    def record(self, kind: str) -> None:
        pass


NEVER = threading.Event()  # for reads that must not be abandoned (a cancel)


@dataclass
class Reading:
    status: str
    output: object = None
    error: str | None = None
    seconds: float | None = None  # created to completed, by Replicate's clock
    age: float | None = None  # seconds since it was created, by Replicate's clock and ours


def _timestamp(value) -> datetime | None:
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _timing(prediction) -> tuple[float | None, float | None]:
    """(duration if finished, age) of a prediction from its created_at / completed_at."""
    return _timing_of(getattr(prediction, "created_at", None), getattr(prediction, "completed_at", None))


def _timing_of(created_at, completed_at) -> tuple[float | None, float | None]:
    created = _timestamp(created_at)
    if created is None:
        return None, None
    completed = _timestamp(completed_at)
    seconds = (completed - created).total_seconds() if completed else None
    age = (datetime.now(UTC) - created).total_seconds()
    return (max(0.0, seconds) if seconds is not None else None), max(0.0, age)


def reading_of(prediction: dict) -> Reading:
    """A prediction's JSON as a webhook delivers it, read like a GET of it."""
    status = str(prediction.get("status") or "")
    seconds, age = _timing_of(prediction.get("created_at"), prediction.get("completed_at"))
    if status == "failed":
        return Reading("failed", error=f"prediction failed: {prediction.get('error') or 'no reason given'}")
    if status == "canceled":
        return Reading("canceled", error="prediction was canceled")
    if status == "aborted":
        return Reading("aborted", error=f"prediction {prediction.get('id')} was aborted by Replicate (Cancel-After)")
    return Reading(status, prediction.get("output"), None, seconds, age)


class WebhookRefused(Exception):
    """A webhook whose headers or signature do not check out."""


def verify_webhook(headers, body: str, secret: str) -> None:
    """Replicate's signature (Standard Webhooks), through the client's own check: HMAC-SHA256 over
    "{id}.{timestamp}.{body}" keyed with the base64 part of the whsec_ secret, any `v1,<b64>` entry of
    `webhook-signature` may match, compared in constant time; a timestamp over 5 minutes away is refused."""
    given = {name: headers.get(name) for name in WEBHOOK_HEADERS}
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise WebhookRefused(f"missing header {missing[0]}")
    if not given["webhook-timestamp"].isdigit():
        raise WebhookRefused("webhook-timestamp is not a Unix time")
    try:
        replicate.webhooks.validate(
            headers=given, body=body, secret=WebhookSigningSecret(key=secret), tolerance=WEBHOOK_TOLERANCE
        )
    except ValueError as exc:  # WebhookValidationError and base64's binascii.Error are ValueErrors
        raise WebhookRefused(str(exc) or exc.__class__.__name__) from None


def fetch_webhook_secret(client: replicate.Client) -> str:
    """The account's signing secret (GET /v1/webhooks/default/secret): a read, so the caller spends a token."""
    return client.webhooks.default.secret().key


class CancelAfterTransport(httpx.BaseTransport):
    """Adds `Cancel-After: <timeout>s` to every create (POST …/predictions): client 1.0.7 has no parameter
    for it, but takes an httpx transport (`replicate.Client(transport=…)`), which it wraps in its retries."""

    def __init__(self, inner: httpx.BaseTransport, seconds: float):
        self.inner = inner
        self.value = f"{max(CANCEL_AFTER_MIN, seconds):.0f}s"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/predictions"):
            request.headers["Cancel-After"] = self.value
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class FallbackPlan:
    """With webhooks on, a prediction is read only as a fallback: every `interval` seconds."""

    def __init__(self, interval: float):
        self.interval = interval

    def next_read(self, last: float | None) -> float:
        return self.interval if last is None else last + self.interval

    def done(self) -> None:
        pass


def without_client_retries(client: replicate.Client) -> None:
    """The client retries GETs on 429/503 by itself (up to 10 times): calls that would bypass the
    read budget and hide the 429s. Our wait loop retries instead, so the client tries once."""
    transport = getattr(client._client, "_transport", None)
    if transport is not None and hasattr(transport, "max_attempts"):
        transport.max_attempts = 1
    else:
        log.warning("replicate client: could not turn off its own retries; reads may exceed the budget")


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
        read_limiter=None,
        usage=None,
        downloader: SafeDownloader | None = None,
        webhook_url: str | None = None,
        completions=None,
        fallback_poll: float = 30.0,
    ):
        self.client = client
        self.storage = storage
        self.sd_version = sd_version
        self.deadline = deadline
        self.poll_interval = poll_interval  # the shortest step between two reads of a prediction
        self.limiter = limiter or NoLimit()
        self.read_limiter = read_limiter or NoLimit()
        self.usage = usage or NoCount()
        self.planner = Planner(min_step=poll_interval)
        self.downloader = downloader or SafeDownloader()
        self.webhook_url = webhook_url
        self.completions = completions  # where the web process records what webhooks told (None: off)
        self.fallback_poll = fallback_poll
        # The client builds its HTTP connection pool on first use, without a lock: build it here,
        # once, rather than in twenty item threads at the same moment.
        without_client_retries(client)

    # -- one item -------------------------------------------------------------
    def run(self, spec: ItemSpec, on_created: Callable[[str], None], stop: threading.Event) -> ItemResult:
        provider = get_provider(spec.provider)
        prediction_id = spec.prediction_id
        created = None  # a resumed prediction's age is learned from its first read
        if prediction_id is None:
            payload = provider.build_input(spec.prompt, spec.reference_url, spec.settings)
            prediction_id = self._create(provider, payload, stop)
            created = time.monotonic()
            on_created(prediction_id)
        if self.completions is not None:
            self.completions.expect(prediction_id)
            plan = FallbackPlan(self.fallback_poll)
        else:
            plan = self.planner.plan(spec.provider, spec.recent_seconds)
        try:
            reading = self._wait(prediction_id, stop, plan, created)
        finally:
            plan.done()
        if reading.status != "succeeded":
            raise ItemFailed(reading.error)
        if reading.seconds is not None:
            self.planner.learn(spec.provider, reading.seconds)
        urls = provider.output_urls(reading.output)
        if not urls:
            raise ItemFailed(f"prediction {prediction_id} succeeded without an output")
        key = self._download(urls[0], spec, stop)
        return ItemResult(image_key=key, prediction_id=prediction_id, prediction_seconds=reading.seconds)

    def _create(self, provider: Provider, payload: dict, stop: threading.Event) -> str:
        transient = 0
        throttled_since = None
        while True:
            if not self.limiter.acquire(stop):
                raise Stopped()
            try:
                self.usage.record("create")
                return self._send_create(provider, payload)
            except ReplicateError as exc:
                if exc.status == 429:
                    self.usage.record("create_429")
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

    def _send_create(self, provider: Provider, payload: dict) -> str:
        hooks = {}
        if self.webhook_url:
            hooks = {"webhook": self.webhook_url, "webhook_events_filter": ["completed"]}
        if provider.by_version:
            prediction = self.client.predictions.create(version=self.sd_version, input=payload, **hooks)
        else:
            prediction = self.client.models.predictions.create(model=provider.model, input=payload, **hooks)
        return prediction.id

    def _wait(self, prediction_id: str, stop: threading.Event, plan: Plan, created: float | None) -> Reading:
        """Read the prediction when it is likely done until it ends or passes its deadline.

        `created`: when we created it (monotonic); None for a resumed prediction, which is read at
        once and then placed by the age Replicate reports."""
        deadline = (created or time.monotonic()) + self.deadline
        last = None  # seconds after creation of the last read
        transient = 0
        while True:
            told = self._until_read(prediction_id, plan, created, last, deadline, stop)
            if told is not None:
                return told
            if not self.read_limiter.acquire(stop):
                raise Stopped()
            try:
                reading = self._read(prediction_id)
                transient = 0
            except TransientReadError as exc:
                if time.monotonic() > deadline:
                    self._cancel(prediction_id)  # best effort: it may still be running (and billing)
                    return Reading("failed", error=f"{exc}; gave up at the {self.deadline:.0f} s deadline")
                transient += 1
                wait = exc.retry_after if exc.retry_after is not None else _backoff(min(transient, 6))
                wait = min(wait, max(0.05, deadline - time.monotonic()))  # one last try at the deadline
                log.info("read of %s not answered (%s); again in %.1f s", prediction_id, exc, wait)
                self._sleep(wait, stop)
                continue
            if reading.status in FINISHED:
                return reading
            if created is None and reading.age is not None:
                created = time.monotonic() - reading.age
                deadline = created + self.deadline
            if time.monotonic() > deadline:
                self._cancel(prediction_id)
                return Reading(
                    "failed", error=f"prediction {prediction_id} did not finish within {self.deadline:.0f} s; canceled"
                )
            now = time.monotonic()
            if created is None:  # no age known: the old pace
                created = now
            last = now - created

    def _until_read(
        self, prediction_id: str, plan: Plan, created: float | None, last: float | None, deadline: float, stop
    ) -> Reading | None:
        """Wait for the next read; with webhooks, return what a webhook told meanwhile instead.
        A resumed prediction (`created` None) is read at once, unless its webhook came meanwhile."""
        if created is None:
            return self._told(prediction_id) if self.completions is not None else None
        if self.completions is None:
            self._sleep_until_read(plan, created, last, stop)
            return None
        read_at = min(created + plan.next_read(last), deadline + DEADLINE_GRACE)
        while True:
            prediction = self.completions.wait(prediction_id, max(0.0, read_at - time.monotonic()), stop)
            if stop.is_set():
                raise Stopped()
            if prediction is not None and str(prediction.get("status")) in FINISHED:
                return reading_of(prediction)
            if time.monotonic() >= read_at:
                return None

    def _told(self, prediction_id: str) -> Reading | None:
        prediction = self.completions.get(prediction_id)
        if prediction is not None and str(prediction.get("status")) in FINISHED:
            return reading_of(prediction)
        return None

    def _sleep_until_read(self, plan: Plan, created: float, last: float | None, stop: threading.Event) -> None:
        """Sleep until the plan's next read, looking at the plan again every REPLAN_SECONDS: a scout's
        finding (or taking over as the scout) moves the read time of predictions already waiting."""
        while True:
            wait = created + plan.next_read(last) - time.monotonic()
            if wait <= 0:
                return
            self._sleep(min(wait, REPLAN_SECONDS), stop)

    def _read(self, prediction_id: str) -> Reading:
        """One read of the prediction; TransientReadError when it is worth trying again."""
        try:
            self.usage.record("read")
            prediction = self.client.predictions.get(prediction_id)
        except PydanticV1ValidationError:
            # client 1.0.7 cannot parse the documented "aborted" status
            return Reading("aborted", error=f"prediction {prediction_id} was aborted by Replicate")
        except ReplicateError as exc:
            if exc.status == 404:
                return Reading("failed", error=f"prediction {prediction_id} no longer exists at Replicate")
            reason = f"could not read prediction {prediction_id} ({exc.status}): {exc.detail}"
            if exc.status == 429:
                self.usage.record("read_429")
                raise TransientReadError(reason, _retry_after(exc) or 1.0) from None
            if exc.status is None or exc.status >= 500:
                raise TransientReadError(reason) from None
            return Reading("failed", error=reason)
        except httpx.TransportError as exc:
            raise TransientReadError(f"could not reach Replicate to read prediction {prediction_id}: {exc}") from None
        seconds, age = _timing(prediction)
        if prediction.status == "failed":
            return Reading("failed", error=f"prediction failed: {prediction.error or 'no reason given'}")
        if prediction.status == "canceled":
            return Reading("canceled", error="prediction was canceled")
        return Reading(prediction.status, prediction.output, None, seconds, age)

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
        """A cancel is a read as far as the account's limits go: it takes a token from the budget."""
        self.read_limiter.acquire(NEVER)
        try:
            self.usage.record("read")
            self.client.predictions.cancel(prediction_id)
        except ReplicateError as exc:
            if exc.status == 429:
                self.usage.record("read_429")
            log.warning("could not cancel prediction %s: %s", prediction_id, exc)
        except (httpx.HTTPError, PydanticV1ValidationError) as exc:
            log.warning("could not cancel prediction %s: %s", prediction_id, exc)

    @staticmethod
    def _sleep(seconds: float, stop: threading.Event) -> None:
        if seconds <= 0:
            if stop.is_set():
                raise Stopped()
            return
        if stop.wait(seconds):
            raise Stopped()
