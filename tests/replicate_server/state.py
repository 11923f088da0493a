"""A prediction's record, and its status computed from timestamps whenever it is read (no thread per prediction)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from tests.replicate_server.plumbing import not_found

FAILURE_ERROR = "E001 simulated model failure"
TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # Replicate ids are lowercase base32
_STEPS = 25  # the progress bar a running prediction logs


class Prediction:
    __slots__ = (
        "id",
        "model",
        "version",
        "input",
        "created",
        "start",
        "end",
        "outcome",
        "canceled_at",
        "fmt",
        "n_outputs",
        "expired",
        "webhook",
        "first_download",
        "list_output",
        "error",
        "deadline",
        "cancel_after",
        "events",
        "webhook_completed",
        "completed_sent",
        "inline",  # outputs as data: URIs (see inline.py)
        "output_size",
        "output_body",
        "logs_size",
    )

    def __init__(self, **kw: Any) -> None:
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


def final(rec: Prediction) -> tuple[str, float | None, float]:
    """How the prediction ends unless cancelled through the API: (status, started, ended).
    Past its Cancel-After deadline one that has not started is aborted, a running one canceled."""
    deadline = rec.deadline
    if deadline is not None and deadline < rec.end:
        if deadline <= rec.start:
            return "aborted", None, deadline
        return "canceled", rec.start, deadline
    if rec.outcome == "aborted":
        return "aborted", None, rec.end
    return rec.outcome, rec.start, rec.end


def state_at(rec: Prediction, now: float) -> tuple[str, float | None, float | None]:
    """(status, started, ended) as a read at ``now`` sees it."""
    if rec.canceled_at is not None:
        started = rec.start if rec.canceled_at >= rec.start else None
        return "canceled", started, rec.canceled_at
    status, started, ended = final(rec)
    if now >= ended:
        return status, started, ended
    if now < rec.start:
        return "starting", None, None
    return "processing", rec.start, None


def ended_at(rec: Prediction) -> float:
    return rec.canceled_at if rec.canceled_at is not None else final(rec)[2]


def _logs(rec: Prediction, status: str, now: float, error: str | None) -> str:
    if status == "processing":
        frac = (now - rec.start) / (rec.end - rec.start) if rec.end > rec.start else 1.0
        cur = min(_STEPS, int(frac * _STEPS))
        bar = "#" * (cur * 10 // _STEPS)
        return f"Running prediction...\n{int(frac * 100):3d}%|{bar:<10}| {cur}/{_STEPS}\n"
    if status == "succeeded":
        return f"Running prediction...\n100%|##########| {_STEPS}/{_STEPS}\n"
    if status == "failed":
        return f"Running prediction...\nTraceback (most recent call last):\n{error}\n"
    return ""


class PredictionState:
    """The predictions this server holds, and their JSON as the API shows it."""

    url: str
    output_ttl: float | None
    _lock: threading.RLock
    _stop_event: threading.Event
    _preds: dict[str, Prediction]

    def _iso(self, mono: float | None) -> str | None:
        if mono is None:
            return None
        wall = self._wall0 + (mono - self._mono0)
        return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _new_id(self) -> str:
        while True:
            pid = "".join(self._rng.choice(_ID_ALPHABET) for _ in range(26))
            if pid not in self._preds:
                return pid

    def _is_expired(self, rec: Prediction, now: float) -> bool:
        if rec.expired:
            return True
        ttl = self.output_ttl
        return ttl is not None and rec.outcome == "succeeded" and rec.canceled_at is None and now - rec.end > ttl

    def _output_urls(self, rec: Prediction) -> list[str]:
        return [f"{self.url}/files/{rec.id}/out-{i}.{rec.fmt}" for i in range(rec.n_outputs)]

    def _outcome_json(self, rec: Prediction, status: str) -> tuple[Any, str | None, dict[str, Any]]:
        """(output, error, metrics) of a prediction with ``status``."""
        if status not in ("succeeded", "failed"):
            return None, None, {}
        metrics = {"predict_time": round(rec.end - rec.start, 6), "total_time": round(rec.end - rec.created, 6)}
        if status == "failed":
            return None, rec.error or FAILURE_ERROR, metrics
        urls = self._output_urls(rec)
        if rec.inline:
            urls = [f"\x00DATA:{rec.id}:{i}\x00" for i in range(rec.n_outputs)]  # see inline.py
        return (urls if rec.n_outputs != 1 or rec.list_output else urls[0]), None, metrics

    def _to_json(self, rec: Prediction, now: float, as_created: bool = False) -> dict:
        if as_created:
            status, started, completed = "starting", None, None
        else:
            status, started, completed = state_at(rec, now)
        output, error, metrics = self._outcome_json(rec, status)
        base = self.url
        return {
            "id": rec.id,
            "model": rec.model,
            "version": rec.version,
            "input": rec.input,
            "logs": f"\x00LOGS:{rec.id}:0\x00"
            if rec.logs_size and status != "starting"
            else _logs(rec, status, now, error),
            "output": output,
            "data_removed": self._is_expired(rec, now),
            "error": error,
            "status": status,
            "source": "api",
            "created_at": self._iso(rec.created),
            "started_at": self._iso(started),
            "completed_at": self._iso(completed),
            "urls": {
                "cancel": f"{base}/v1/predictions/{rec.id}/cancel",
                "get": f"{base}/v1/predictions/{rec.id}",
                "stream": f"{base}/stream/{rec.id}",
                "web": f"https://replicate.com/p/{rec.id}",
            },
            "metrics": metrics,
        }

    def _wait_for_end(self, rec: Prediction, deadline: float) -> str:
        """Block until the prediction ends, `deadline` (monotonic) passes or the server stops; its status then."""
        while True:
            now = time.monotonic()
            with self._lock:
                status = state_at(rec, now)[0]
            if status in TERMINAL or now >= deadline or self._stop_event.is_set():
                return status
            self._stop_event.wait(min(max(rec.end - now, 0.001), deadline - now, 0.05))

    def _lookup(self, pid: str) -> Prediction:
        with self._lock:
            rec = self._preds.get(pid)
        if rec is None:
            raise not_found()
        return rec
