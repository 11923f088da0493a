"""One read for every prediction this process waits on: a list of the account's recent predictions.

Replicate lists an account's predictions newest first, 100 to a page, each with its status, output
and metrics (`GET /v1/predictions`). Reading each prediction costs a call per prediction per read;
one list answers for all of them. So while any prediction is likely to be ending (by `read_plan`'s
learned ranges, or early while a provider has no history yet), this process lists the account every
step and hands each finished prediction to the item waiting on it, as a webhook's copy would be.

The account is shared with the production app, whose predictions are listed too: pages are followed
while they are newer than the oldest prediction waited on, up to MAX_PAGES a round. A prediction no
list has shown for a while (older than the pages reach) is read on its own by its item (`overdue`).
The raw HTTP call is used: the client's `predictions.list` parses every listed prediction and fails
on any `aborted` one, which may be the production app's.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import replicate
from replicate.exceptions import ReplicateError

from app.core.iso_time import parse_utc
from app.providers.base import Limiter, UsageCounter
from app.providers.replicate.read_plan import MAX_STEP, SCOUT_FIRST, Plan
from app.providers.replicate.readings import FINISHED
from app.providers.replicate.transport import AnswerTooLarge, backoff, retry_after

log = logging.getLogger("app.providers.replicate.predictions")

MAX_PAGES = 3  # pages per round: 300 of the account's newest predictions
LATE_STEP = 5.0  # the longest pause between lists while only long-overdue predictions wait
CLOCK_SLACK = timedelta(seconds=10)  # our clock against Replicate's, when comparing creation times
REPLAN_SECONDS = 0.25
TOO_LARGE_PAUSE = 60.0  # after a list over MAX_PREDICTION_BYTES, before the next


@dataclass
class Watched:
    created: float  # monotonic
    created_at: datetime  # the same moment by the wall clock, to compare with Replicate's created_at
    plan: Plan
    seen: float | None = None  # monotonic time of the last list (or own read) that showed it
    finished: dict | None = None
    event: threading.Event = field(default_factory=threading.Event)


class AccountWatcher:
    """Lists the account's predictions for the items of this process; a daemon thread, idle when none wait."""

    def __init__(
        self,
        client: replicate.Client,
        usage: UsageCounter,
        read_limiter: Limiter,
        min_step: float,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.client = client
        self.usage = usage
        self.read_limiter = read_limiter
        self.min_step = min_step
        self.max_pages = max_pages
        self._watched: dict[str, Watched] = {}
        self._lock = threading.Condition()
        self._last_list: float | None = None
        self._thread: threading.Thread | None = None
        self._never = threading.Event()

    # -- the items' side ----------------------------------------------------------
    def watch(self, prediction_id: str, created: float, plan: Plan) -> None:
        """Include the prediction in the lists from now on (again: no change)."""
        created_at = datetime.now(UTC) - timedelta(seconds=time.monotonic() - created)
        with self._lock:
            self._watched.setdefault(prediction_id, Watched(created, created_at, plan))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="replicate-list", daemon=True)
                self._thread.start()
            self._lock.notify_all()

    def forget(self, prediction_id: str) -> None:
        with self._lock:
            self._watched.pop(prediction_id, None)

    def wait(self, prediction_id: str, timeout: float, stop: threading.Event) -> dict | None:
        """The finished prediction's JSON once a list showed it, else None after `timeout`."""
        with self._lock:
            watched = self._watched.get(prediction_id)
        if watched is None:
            return None
        end = time.monotonic() + timeout
        while not watched.event.is_set() and not stop.is_set() and time.monotonic() < end:
            watched.event.wait(min(REPLAN_SECONDS, max(0.0, end - time.monotonic())))
        return watched.finished

    def overdue(self, prediction_id: str) -> bool:
        """Whether the item should read it itself: likely ending, yet no list has shown it for a while."""
        now = time.monotonic()
        with self._lock:
            watched = self._watched.get(prediction_id)
            if watched is None:
                return True
            since = max(watched.seen or 0.0, self._window_start(watched))
            age = now - watched.created
            if now - since > max(3 * self._step(watched), 2 * MAX_STEP, 0.25 * age):
                watched.seen = now  # its own read counts as a sighting: the next one waits as long again
                return True
            return False

    # -- the list ---------------------------------------------------------------
    def _window_start(self, watched: Watched) -> float:
        """When a list should start showing it: the provider's earliest likely end, or early while
        the provider is unchecked (no success yet, and younger than the default's earliest end)."""
        plan = watched.plan
        likely = plan.range()
        if plan.learned is None and not plan.planner.checked(plan.provider):
            if time.monotonic() - watched.created > likely.lo:
                plan.planner.confirm(plan.provider)
            else:
                return watched.created + min(SCOUT_FIRST, 5 * self.min_step)
        return watched.created + likely.lo

    def _step(self, watched: Watched) -> float:
        likely = watched.plan.range()
        return max(self.min_step, min(0.5, (likely.hi - likely.lo) / 10))

    def _next_round(self) -> float | None:
        """Seconds until the next list (None: nothing waits). Every step while a prediction is in its
        likely window; slower once all that wait are far past it."""
        now = time.monotonic()
        pending = [w for w in self._watched.values() if w.finished is None]
        if not pending:
            return None
        starts = [self._window_start(w) for w in pending]
        if min(starts) > now:
            return min(starts) - now
        steps = []
        for watched, start in zip(pending, starts, strict=True):
            if start <= now:
                likely = watched.plan.range()
                late = now - watched.created > likely.hi + 2 * MAX_STEP
                age = now - watched.created
                steps.append(min(LATE_STEP, max(self._step(watched), 0.25 * age)) if late else self._step(watched))
        last = self._last_list if self._last_list is not None else float("-inf")
        return max(0.0, last + min(steps) - now)

    def _run(self) -> None:
        while True:
            with self._lock:
                wait = self._next_round()
                if wait is None:  # nothing waits: sleep until `watch` brings a prediction
                    self._lock.wait()
                    continue
            if wait > 0:
                time.sleep(min(wait, REPLAN_SECONDS))
                continue
            try:
                self._round()
            except Exception:  # the thread must outlive any surprise; items fall back to their own reads
                log.exception("listing the account's predictions failed")
                time.sleep(1.0)

    def _round(self) -> None:
        """One list: the first page, then older pages while some prediction waited on is not yet shown."""
        started = time.monotonic()
        with self._lock:
            pending = {pid for pid, w in self._watched.items() if w.finished is None}
            oldest = min((w.created_at for w in self._watched.values() if w.finished is None), default=None)
        url: str | None = "/v1/predictions"
        pages = 0
        while url and pending and pages < self.max_pages:
            self.read_limiter.acquire(self._never)
            body = self._page(url)
            pages += 1
            if body is None:
                break
            results = [p for p in body.get("results") or [] if isinstance(p, dict)]
            pending -= self._note(results, started)
            url = body.get("next") if self._older_pages_matter(results, oldest) else None
        with self._lock:
            self._last_list = started

    def _older_pages_matter(self, results: list[dict], oldest: datetime | None) -> bool:
        last = parse_utc(results[-1].get("created_at")) if results else None
        return oldest is not None and last is not None and last > oldest - CLOCK_SLACK

    def _page(self, url: str) -> dict | None:
        try:
            self.usage.record("read")
            body = self.client._request("GET", url).json()
        except ReplicateError as exc:
            wait = backoff(1)
            if exc.status == 429:
                self.usage.record("read_429")
                wait = retry_after(exc) or 1.0
            log.info("list of predictions not answered (%s); again in %.1f s", exc.status, wait)
            time.sleep(wait)
            return None
        except (httpx.HTTPError, ValueError) as exc:
            log.info("list of predictions failed (%s)", exc)
            time.sleep(backoff(1))
            return None
        except AnswerTooLarge as exc:
            # a prediction listed carries a huge output or logs: while it stays on the first pages, lists would
            # read it again and again; the items read their own predictions meanwhile (`overdue`)
            log.warning("list of predictions refused (%s); lists pause for %.0f s", exc, TOO_LARGE_PAUSE)
            time.sleep(TOO_LARGE_PAUSE)
            return None
        return body if isinstance(body, dict) else None

    def _note(self, results: list[dict], when: float) -> set[str]:
        """Mark what the page shows; wake the items whose prediction ended. Returns the ids it showed."""
        shown = set()
        with self._lock:
            for prediction in results:
                watched = self._watched.get(str(prediction.get("id")))
                if watched is None:
                    continue
                shown.add(str(prediction.get("id")))
                watched.seen = when
                if str(prediction.get("status")) in FINISHED and watched.finished is None:
                    watched.finished = prediction
                    watched.event.set()
        return shown
