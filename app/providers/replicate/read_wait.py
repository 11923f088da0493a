"""Waiting for a prediction's next read: until the plan's time, or less when a webhook or a list of the
account (`account_watch`) tells meanwhile that the prediction ended."""

from __future__ import annotations

import threading
import time

from app.providers.base import Completions, Stopped
from app.providers.replicate.account_watch import AccountWatcher
from app.providers.replicate.read_plan import Plan
from app.providers.replicate.readings import FINISHED, Reading, Schedule, reading_of, told_by_webhook

REPLAN_SECONDS = 0.25
DEADLINE_GRACE = 2.0  # with Cancel-After, Replicate ends a late prediction first; we look this much later


def sleep_or_stop(seconds: float, stop: threading.Event) -> None:
    """Sleep, or raise Stopped as soon as the job is stopped."""
    if seconds <= 0:
        if stop.is_set():
            raise Stopped()
        return
    if stop.wait(seconds):
        raise Stopped()


class ReadWait:
    """What an item does between two reads of its prediction, by how this process learns of ends."""

    def __init__(self, completions: Completions | None = None, watcher: AccountWatcher | None = None) -> None:
        self.completions = completions  # webhooks' records (None: off)
        self.watcher = watcher  # lists of the account (None: each prediction is read on its own)

    def until_read(
        self,
        prediction_id: str,
        plan: Schedule,
        created: float | None,
        last: float | None,
        deadline: float,
        stop: threading.Event,
    ) -> Reading | None:
        """Wait for the next read; return instead what a webhook or a list told meanwhile. A resumed
        prediction (`created` None) is read at once, unless its webhook came meanwhile."""
        if created is None:
            return told_by_webhook(self.completions, prediction_id) if self.completions is not None else None
        if self.watcher is not None and isinstance(plan, Plan):
            return self._until_listed(self.watcher, prediction_id, plan, created, deadline, stop)
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

    def forget(self, prediction_id: str) -> None:
        if self.watcher is not None:
            self.watcher.forget(prediction_id)

    @staticmethod
    def _until_listed(
        watcher: AccountWatcher, prediction_id: str, plan: Plan, created: float, deadline: float, stop: threading.Event
    ) -> Reading | None:
        """Wait for a list of the account to show the prediction ended; None when the item should read
        it itself (no list has shown it lately, it passed its deadline, or the list gave no output)."""
        watcher.watch(prediction_id, created, plan)
        while True:
            told = watcher.wait(prediction_id, REPLAN_SECONDS, stop)
            if stop.is_set():
                raise Stopped()
            if told is not None:
                reading = reading_of(told)
                return None if reading.status == "succeeded" and reading.output is None else reading
            if time.monotonic() > deadline or watcher.overdue(prediction_id):
                return None

    @staticmethod
    def _sleep_until_read(plan: Schedule, created: float, last: float | None, stop: threading.Event) -> None:
        """Sleep until the plan's next read, looking at the plan again every REPLAN_SECONDS: a scout's
        finding (or taking over as the scout) moves the read time of predictions already waiting."""
        while True:
            wait = created + plan.next_read(last) - time.monotonic()
            if wait <= 0:
                return
            sleep_or_stop(min(wait, REPLAN_SECONDS), stop)
