"""Running one prediction on Replicate and copying its output into our storage.

Uses `predictions.create` and our own wait loop with a deadline. A 429 on create waits for its reset
hint and is not a failure (the client does not retry POSTs); 5xx and connection errors back off with
jitter, a bounded number of times; a prediction that fails, is canceled or aborted fails that model
only; one past its deadline is canceled at Replicate; a failed download is retried without creating
a new prediction.

Reads (polls, lists, cancels) spend the account's read budget, shared by every consumer, and are
planned for when a prediction is likely done (`read_plan`). Without webhooks, one list of the
account's predictions reads all that this process waits on (`account_watch`). A failed read (429,
5xx, network) is tried again until the item's deadline: a read never fails an already-billed
prediction. The client's own retries are off, so every call goes through the budget.

With a webhook URL (PUBLIC_BASE_URL), each create asks Replicate to POST the finished prediction
to us; the web process records it and wakes the item (`completions`), which then downloads
without reading the prediction at all. A read every `fallback_poll` seconds (about 30) catches a
webhook that never comes. Every create carries `Cancel-After` (the prediction timeout), added by
our HTTP transport since the client has no parameter for it: a prediction that never started
ends `aborted` at Replicate, unbilled, even when no consumer is left to cancel it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import httpx
import replicate
from pydantic.v1 import ValidationError as PydanticV1ValidationError
from replicate.exceptions import ReplicateError
from replicate.prediction import Predictions

from app.providers.base import Completions, Ending, ItemFailed, ItemResult, ItemSpec, Limiter, Stopped, UsageCounter
from app.providers.catalog import Provider, get_provider
from app.providers.download.downloader import SafeDownloader
from app.providers.outputs import StoredOutput, store_output
from app.providers.replicate.account_watch import AccountWatcher
from app.providers.replicate.read_plan import Planner
from app.providers.replicate.read_wait import ReadWait, sleep_or_stop
from app.providers.replicate.readings import (
    FINISHED,
    REFUSED,
    FallbackPlan,
    Reading,
    Schedule,
    TransientReadError,
    cancel_prediction,
    ending_of,
    past_deadline,
    read_prediction,
)
from app.providers.replicate.transport import AnswerTooLarge, backoff, retry_after, without_client_retries
from app.storage.base import Storage

log = logging.getLogger(__name__)

TRANSIENT_RETRIES = 5
MAX_THROTTLE_WAIT = 120.0


class NoLimit:
    def acquire(self, stop: threading.Event) -> bool:
        return True


class NoCount:
    def record(self, kind: str) -> None:
        pass


def stored_result(
    stored: StoredOutput, prediction_id: str, reading: Reading, provider: Provider, version: str, settings: dict
) -> ItemResult:
    """A stored output with what made it: the model (and version) the prediction ran, the settings it was sent."""
    return ItemResult(
        stored.key,
        prediction_id,
        sizes=stored.sizes,
        prediction_seconds=reading.seconds,
        predict_time=reading.predict_time,
        model_version=provider.version_label(version),
        settings=provider.sent_settings(settings),
    )


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
        limiter: Limiter | None = None,
        read_limiter: Limiter | None = None,
        usage: UsageCounter | None = None,
        downloader: SafeDownloader | None = None,
        webhook_url: str | None = None,
        completions: Completions | None = None,
        fallback_poll: float = 30.0,
        read_by_list: bool = True,
    ) -> None:
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
        # Without webhooks, one list of the account's predictions reads all that this process waits on.
        listing = read_by_list and completions is None
        watcher = AccountWatcher(client, self.usage, self.read_limiter, poll_interval) if listing else None
        self.waiting = ReadWait(completions, watcher)
        # The client builds its HTTP connection pool on first use, without a lock: build it here,
        # once, rather than in twenty item threads at the same moment.
        without_client_retries(client)

    # -- one item -------------------------------------------------------------
    def run(self, spec: ItemSpec, on_created: Callable[[str], None], stop: threading.Event) -> ItemResult:
        provider = spec.provider_spec or get_provider(spec.provider)
        prediction_id = spec.prediction_id
        created = None  # a resumed prediction's age is learned from its first read
        if prediction_id is None:
            payload = provider.build_input(spec.prompt, spec.reference_url, spec.settings)
            prediction_id = self._create(provider, payload, stop)
            created = time.monotonic()
            on_created(prediction_id)
        plan: Schedule
        if self.completions is not None:
            self.completions.expect(prediction_id)
            plan = FallbackPlan(self.fallback_poll)
        else:
            plan = self.planner.plan(spec.provider, spec.recent_seconds)
        try:
            reading = self._wait(prediction_id, stop, plan, created)
        finally:
            plan.done()
            self.waiting.forget(prediction_id)
        if reading.status == REFUSED:  # its status unknown: counted as billed (Cancel-After ends one still running)
            raise ItemFailed(f"{reading.error}; counted as billed", succeeded=True)
        if reading.status != "succeeded":
            raise ItemFailed(reading.error, reading.predict_time)
        if reading.seconds is not None:
            self.planner.learn(spec.provider, reading.seconds)
        urls = provider.output_urls(reading.output)
        if not urls:
            raise ItemFailed(f"prediction {prediction_id} succeeded without an output", reading.predict_time)
        stored = store_output(
            self.downloader, self.storage, urls[0], spec, lambda pause: self._sleep(pause, stop), reading.predict_time
        )
        version = provider.version or self.sd_version
        return stored_result(stored, prediction_id, reading, provider, version, spec.settings)

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
                    wait = retry_after(exc) or backoff(transient)
                    log.info("create throttled (429); waiting %.1f s", wait)
                    self._sleep(wait, stop)
                    continue
                if exc.status and exc.status >= 500 and transient < TRANSIENT_RETRIES:
                    transient += 1
                    self._sleep(backoff(transient), stop)
                    continue
                raise ItemFailed(
                    f"Replicate refused the prediction ({exc.status}): {exc.detail or exc.title}"
                ) from None
            except AnswerTooLarge as exc:
                raise ItemFailed(f"Replicate's answer to the create was refused unread: {exc}") from None
            except (httpx.TransportError, PydanticV1ValidationError) as exc:
                if transient < TRANSIENT_RETRIES:
                    transient += 1
                    self._sleep(backoff(transient), stop)
                    continue
                raise ItemFailed(f"could not reach Replicate to create the prediction: {exc}") from None

    def _send_create(self, provider: Provider, payload: dict) -> str:
        hooks: Predictions.CreatePredictionParams = {}
        if self.webhook_url:
            hooks = {"webhook": self.webhook_url, "webhook_events_filter": ["completed"]}
        if provider.by_version:
            version = provider.version or self.sd_version  # a pinned row's own, or SD_IMG2IMG_VERSION
            prediction = self.client.predictions.create(version=version, input=payload, **hooks)
        else:
            prediction = self.client.models.predictions.create(model=provider.model, input=payload, **hooks)
        return prediction.id

    def _wait(self, prediction_id: str, stop: threading.Event, plan: Schedule, created: float | None) -> Reading:
        """Read the prediction when it is likely done until it ends or passes its deadline.

        `created`: when we created it (monotonic); None for a resumed prediction, which is read at
        once and then placed by the age Replicate reports."""
        deadline = (created or time.monotonic()) + self.deadline
        last = None  # seconds after creation of the last read
        transient = 0
        while True:
            told = self.waiting.until_read(prediction_id, plan, created, last, deadline, stop)
            if told is not None:
                return told
            if not self.read_limiter.acquire(stop):
                raise Stopped()
            try:
                reading = self._read(prediction_id)
                transient = 0
            except TransientReadError as exc:
                if time.monotonic() > deadline:  # best effort: it may still be running (and billing)
                    return self._stop(prediction_id, f"{exc}; gave up at the {self.deadline:.0f} s deadline")
                transient += 1
                wait = exc.retry_after if exc.retry_after is not None else backoff(min(transient, 6))
                wait = min(wait, max(0.05, deadline - time.monotonic()))  # one last try at the deadline
                log.info("read of %s not answered (%s); again in %.1f s", prediction_id, exc, wait)
                self._sleep(wait, stop)
                continue
            if reading.status in FINISHED or reading.status == REFUSED:
                return reading
            if created is None and reading.age is not None:
                created = time.monotonic() - reading.age
                deadline = created + self.deadline
            if time.monotonic() > deadline:
                return self._stop(
                    prediction_id, f"prediction {prediction_id} did not finish within {self.deadline:.0f} s; canceled"
                )
            now = time.monotonic()
            if created is None:  # no age known: the old pace
                created = now
            last = now - created

    def _read(self, prediction_id: str) -> Reading:
        return read_prediction(self.client, self.usage, prediction_id)

    def _stop(self, prediction_id: str, error: str) -> Reading:
        """Cancel a prediction past its deadline: see `readings.past_deadline`."""
        return past_deadline(cancel_prediction(self.client, self.usage, self.read_limiter, prediction_id), error)

    def cancel(self, prediction_id: str) -> Ending | None:
        return ending_of(cancel_prediction(self.client, self.usage, self.read_limiter, prediction_id))

    @staticmethod
    def _sleep(seconds: float, stop: threading.Event) -> None:
        sleep_or_stop(seconds, stop)
