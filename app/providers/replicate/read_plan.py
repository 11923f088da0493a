"""When to read a prediction: near the time it is likely to finish, then at short intervals.

Every read takes a token from the account's read budget, so reads go where they pay. A
prediction's first read is planned from how long this provider's predictions took lately
(their durations are kept on the job items): the earliest likely end (5th percentile) plus one
step, then a read every step, the step being a fifth of the likely spread (5th to 95th
percentile) within [min_step, MAX_STEP]. Past the likely end the step grows with the
prediction's age, so a prediction stuck for minutes costs a read every few seconds at most.

Before a provider has history the plan comes from a default per provider (`PRIORS`). One
prediction per provider and process is the scout: it is read early and often (every quarter of
its age) until one prediction of that provider has succeeded or the scout outlives the default's
earliest end; when the first success falls outside the default's range, the default is replaced
by one around it, for the predictions already waiting too.
Neither logs nor progress percentages are used (official models give none).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

# Likely durations (seconds from create to completion) before there is history: the 5th and
# 95th percentile we expect. nano-banana's is the 8 ± 4 s it takes in practice; the others are
# guesses. Replaced as soon as 5 predictions of the provider have finished (and checked against
# the first one that succeeds, by the scout).
PRIORS: dict[str, tuple[float, float]] = {
    "NANO_BANANA": (4.0, 12.0),
    "FLUX_KONTEXT": (3.0, 12.0),
    "FLUX_PRO": (2.0, 10.0),
    "STABLE_DIFFUSION": (3.0, 12.0),
    # this year's six (issue 36), from their model pages and public trackers (Oct-Nov 2026): nano-banana-pro is
    # slow (p50 ~42 s, p95 ~98 s); seedream-4 ~14 s at 2K; the others a few seconds. PREDICTION_TIMEOUT (600 s
    # by default, sent as Cancel-After) is far above each one's 95th percentile.
    "NANO_BANANA_2": (5.0, 25.0),
    "NANO_BANANA_PRO": (20.0, 98.0),
    "FLUX_2_PRO": (4.0, 20.0),
    "FLUX_KONTEXT_MAX": (3.0, 15.0),
    "SEEDREAM_4": (8.0, 30.0),
    "QWEN_IMAGE_EDIT_PLUS": (3.0, 15.0),
}
DEFAULT_PRIOR = (3.0, 12.0)
MIN_HISTORY = 5
MAX_STEP = 1.5  # the longest pause between reads while a prediction is likely to end
MAX_LATE_STEP = 5.0  # … and once it runs far longer than expected
SCOUT_FIRST = 0.5


@dataclass(frozen=True)
class Range:
    lo: float
    hi: float


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def range_of(durations: Sequence[float]) -> Range | None:
    """The likely range of a provider's durations, or None with too little history."""
    if len(durations) < MIN_HISTORY:
        return None
    return Range(quantile(durations, 0.05), quantile(durations, 0.95))


class Planner:
    """The generator's memory of each provider: its checked default and who scouts it in this process."""

    def __init__(self, min_step: float = 0.2) -> None:
        self.min_step = min_step
        self._lock = threading.Lock()
        self._priors: dict[str, Range] = {}
        self._checked: set[str] = set()
        self._scouts: dict[str, object] = {}

    def prior(self, provider: str) -> Range:
        with self._lock:
            if provider in self._priors:
                return self._priors[provider]
        return Range(*PRIORS.get(provider, DEFAULT_PRIOR))

    def plan(self, provider: str, history: Sequence[float] = ()) -> Plan:
        return Plan(self, provider, range_of(history))

    def learn(self, provider: str, seconds: float) -> None:
        """A prediction of `provider` succeeded after `seconds`: check the default against it."""
        prior = self.prior(provider)
        with self._lock:
            self._checked.add(provider)
            if prior.lo <= seconds <= prior.hi:
                return
            if provider in self._priors:  # already replaced: widen it to take this one in
                lo, hi = min(prior.lo, 0.8 * seconds), max(prior.hi, 1.25 * seconds)
            else:
                lo, hi = 0.8 * seconds, 1.25 * seconds + self.min_step
            self._priors[provider] = Range(lo, hi)

    def confirm(self, provider: str) -> None:
        """The scout outlived the default's earliest end: stop scouting, keep the default."""
        with self._lock:
            self._checked.add(provider)

    def checked(self, provider: str) -> bool:
        with self._lock:
            return provider in self._checked

    def scout(self, provider: str, plan: Plan) -> bool:
        """Whether `plan` scouts `provider` (the first unchecked plan to ask does, until it ends)."""
        with self._lock:
            if provider in self._checked:
                return False
            return self._scouts.setdefault(provider, plan) is plan

    def release(self, provider: str, plan: Plan) -> None:
        with self._lock:
            if self._scouts.get(provider) is plan:
                del self._scouts[provider]


class Plan:
    """The read times of one prediction, in seconds since it was created."""

    def __init__(self, planner: Planner, provider: str, learned: Range | None) -> None:
        self.planner = planner
        self.provider = provider
        self.learned = learned  # fixed for the prediction's life; else the (live) default applies

    def range(self) -> Range:
        return self.learned or self.planner.prior(self.provider)

    def step(self, likely: Range) -> float:
        return min(MAX_STEP, max(self.planner.min_step, (likely.hi - likely.lo) / 5))

    def next_read(self, last: float | None) -> float:
        """When to read next, given when it was last read (None: not yet)."""
        min_step = self.planner.min_step
        if self.learned is None and self.planner.scout(self.provider, self):
            if last is None:
                return min(SCOUT_FIRST, 5 * min_step)
            if last < self.range().lo:
                return last + max(min_step, 0.25 * last)
            # still running at the default's earliest end: the provider is no faster than the default says
            self.planner.confirm(self.provider)
        likely = self.range()
        step = self.step(likely)
        first = likely.lo + step
        if last is None or last < first - step:
            return first
        if last < likely.hi + 2 * step:
            return last + step
        return last + min(MAX_LATE_STEP, max(step, 0.25 * last))

    def done(self) -> None:
        self.planner.release(self.provider, self)
