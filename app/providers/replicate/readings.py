"""What a read of a prediction tells us (`Reading`), a GET of it or a webhook's copy, and the two calls
besides create that the generator makes: reading a prediction and canceling it."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import replicate
from pydantic.v1 import ValidationError as PydanticV1ValidationError
from replicate.exceptions import ReplicateError

from app.core.iso_time import parse_utc
from app.providers.base import Completions, Ending, Limiter, UsageCounter
from app.providers.replicate.transport import AnswerTooLarge, retry_after

log = logging.getLogger("app.providers.replicate.predictions")

NEVER = threading.Event()  # for reads that must not be abandoned (a cancel)

FINISHED = frozenset({"succeeded", "failed", "canceled", "aborted"})
REFUSED = "refused"  # a reading's status when Replicate's answer was over MAX_PREDICTION_BYTES: read no more


class TransientReadError(Exception):
    """A read of a prediction failed in a way that may pass (5xx, 429, network)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after  # set on a 429: the reset hint


@dataclass
class Reading:
    status: str
    output: object = None
    error: str | None = None
    seconds: float | None = None  # created to completed, by Replicate's clock
    age: float | None = None  # seconds since it was created, by Replicate's clock and ours
    predict_time: float | None = None  # metrics.predict_time, set on completion: what time-billed models cost


def predict_time_of(metrics: Any) -> float | None:
    """`metrics.predict_time` of a prediction, when it is a finite number of seconds."""
    value = metrics.get("predict_time") if isinstance(metrics, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < float("inf"):
        return float(value)
    return None


def _timing(prediction: Any) -> tuple[float | None, float | None]:
    """(duration if finished, age) of a prediction from its created_at / completed_at."""
    return _timing_of(getattr(prediction, "created_at", None), getattr(prediction, "completed_at", None))


def _timing_of(created_at: Any, completed_at: Any) -> tuple[float | None, float | None]:
    created = parse_utc(created_at)
    if created is None:
        return None, None
    completed = parse_utc(completed_at)
    seconds = (completed - created).total_seconds() if completed else None
    age = (datetime.now(UTC) - created).total_seconds()
    return (max(0.0, seconds) if seconds is not None else None), max(0.0, age)


def reading_of(prediction: dict) -> Reading:
    """A prediction's JSON as a webhook delivers it, read like a GET of it."""
    status = str(prediction.get("status") or "")
    seconds, age = _timing_of(prediction.get("created_at"), prediction.get("completed_at"))
    spent = predict_time_of(prediction.get("metrics"))
    if status == "failed":
        reason = f"prediction failed: {prediction.get('error') or 'no reason given'}"
        return Reading("failed", error=reason, predict_time=spent)
    if status == "canceled":
        spent = spent if spent is not None else ran_for(prediction.get("started_at"), prediction.get("completed_at"))
        return Reading("canceled", error="prediction was canceled", predict_time=spent)
    if status == "aborted":
        return Reading("aborted", error=f"prediction {prediction.get('id')} was aborted by Replicate (Cancel-After)")
    return Reading(status, prediction.get("output"), None, seconds, age, spent)


def told_by_webhook(completions: Completions, prediction_id: str) -> Reading | None:
    """What a webhook told of a prediction, once it has finished (None: nothing final yet)."""
    prediction = completions.get(prediction_id)
    if prediction is not None and str(prediction.get("status")) in FINISHED:
        return reading_of(prediction)
    return None


class Schedule(Protocol):
    """When to read a prediction next (`read_plan.Plan`, or the webhook fallback's fixed interval)."""

    def next_read(self, last: float | None) -> float: ...

    def done(self) -> None: ...


class FallbackPlan:
    """With webhooks on, a prediction is read only as a fallback: every `interval` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval

    def next_read(self, last: float | None) -> float:
        return self.interval if last is None else last + self.interval

    def done(self) -> None:
        pass


def read_prediction(client: replicate.Client, usage: UsageCounter, prediction_id: str) -> Reading:
    """One read of the prediction; TransientReadError when it is worth trying again."""
    try:
        usage.record("read")
        prediction = client.predictions.get(prediction_id)
    except PydanticV1ValidationError:
        # client 1.0.7 cannot parse the documented "aborted" status
        return Reading("aborted", error=f"prediction {prediction_id} was aborted by Replicate")
    except ReplicateError as exc:
        if exc.status == 404:
            return Reading("failed", error=f"prediction {prediction_id} no longer exists at Replicate")
        reason = f"could not read prediction {prediction_id} ({exc.status}): {exc.detail}"
        if exc.status == 429:
            usage.record("read_429")
            raise TransientReadError(reason, retry_after(exc) or 1.0) from None
        if exc.status is None or exc.status >= 500:
            raise TransientReadError(reason) from None
        return Reading("failed", error=reason)
    except httpx.TransportError as exc:
        raise TransientReadError(f"could not reach Replicate to read prediction {prediction_id}: {exc}") from None
    except AnswerTooLarge as exc:
        return Reading(REFUSED, error=f"prediction {prediction_id} was refused unread: {exc}")
    return reading_of_object(prediction)


def reading_of_object(prediction: Any) -> Reading:
    """What the client's `Prediction` (a GET's or a cancel's answer) tells."""
    seconds, age = _timing(prediction)
    spent = predict_time_of(getattr(prediction, "metrics", None))
    if spent is None and prediction.status == "canceled":
        spent = ran_for(getattr(prediction, "started_at", None), getattr(prediction, "completed_at", None))
    if prediction.status == "failed":
        reason = f"prediction failed: {prediction.error or 'no reason given'}"
        return Reading("failed", error=reason, predict_time=spent)
    if prediction.status == "canceled":
        return Reading("canceled", error="prediction was canceled", predict_time=spent)
    return Reading(prediction.status, prediction.output, None, seconds, age, spent)


def ran_for(started_at: Any, completed_at: Any) -> float | None:
    """Seconds from start to end: what a canceled prediction ran (and a time-billed model billed) when
    its answer carries no `metrics.predict_time`; None when it never started."""
    started, completed = parse_utc(started_at), parse_utc(completed_at)
    if started is None or completed is None:
        return None
    return max(0.0, (completed - started).total_seconds())


def cancel_prediction(
    client: replicate.Client, usage: UsageCounter, read_limiter: Limiter, prediction_id: str
) -> Reading | None:
    """Cancel, and return what the answer tells of the prediction (it may have ended before the cancel);
    None when Replicate could not be asked. A cancel is a read as far as the account's limits go: it
    takes a token from the budget."""
    read_limiter.acquire(NEVER)
    try:
        usage.record("read")
        return reading_of_object(client.predictions.cancel(prediction_id))
    except PydanticV1ValidationError:  # client 1.0.7 cannot parse the documented "aborted" status
        return Reading("aborted", error=f"prediction {prediction_id} was aborted by Replicate")
    except ReplicateError as exc:
        if exc.status == 429:
            usage.record("read_429")
        log.warning("could not cancel prediction %s: %s", prediction_id, exc)
    except (httpx.HTTPError, AnswerTooLarge) as exc:
        log.warning("could not cancel prediction %s: %s", prediction_id, exc)
    return None


def past_deadline(told: Reading | None, error: str) -> Reading:
    """What a prediction canceled past its deadline comes to, by the cancel's answer `told`: one that
    succeeded meanwhile is kept (and billed); otherwise it failed, with the seconds it ran."""
    if told is not None and told.status == "succeeded":
        return told
    return Reading("failed", error=error, predict_time=told.predict_time if told else None)


def ending_of(told: Reading | None) -> Ending | None:
    """How a canceled prediction ended as far as its bill goes; None when the answer did not say."""
    if told is None or told.status not in FINISHED:
        return None
    return Ending(told.status == "succeeded", told.predict_time)
