"""What the server recorded: predictions, creates, downloads; the readings tests and benchmarks take from them."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.replicate_server.limits import busiest_window
from tests.replicate_server.state import Prediction, state_at


class Records:
    """Records of predictions and files; reset with the server."""

    def _reset_records(self) -> None:
        self.creates: list[dict] = []
        self.create_errors = 0
        self.gets = 0
        self.cancels: list[str] = []
        self.downloads = 0
        self.download_failures = 0
        self._preds: dict[str, Prediction] = {}
        self._order: list[str] = []
        self._images: dict[tuple[str, int], bytes] = {}

    def predictions(self) -> list[dict]:
        """Current JSON of every prediction, in creation order."""
        now = time.monotonic()
        with self._lock:
            recs = [self._preds[i] for i in self._order]
            return [self._to_json(r, now) for r in recs]

    def busiest_window(self, seconds: float = 60.0) -> int:
        """Max number of accepted creates inside any half-open window of ``seconds``."""
        with self._lock:
            times = [c["time"] for c in self.creates]
        return busiest_window(times, seconds)

    def creates_for(self, predicate: Callable[[dict], bool]) -> list[dict]:
        with self._lock:
            creates = list(self.creates)
        return [c for c in creates if predicate(c)]

    def download_delays(self) -> list[float]:
        """For each succeeded prediction whose output was downloaded: seconds from its end
        (``completed_at``) to the first download of one of its outputs, in creation order."""
        with self._lock:
            out = []
            for pid in self._order:
                rec = self._preds[pid]
                if rec.first_download is None:
                    continue
                status, _, completed = state_at(rec, rec.first_download)
                if status == "succeeded":
                    out.append(rec.first_download - completed)
            return out

    def prediction_times(self) -> list[dict]:
        """Per prediction, in creation order, with ``time.monotonic()`` values: ``created``,
        ``started`` / ``ended`` (None until it has), ``first_download`` (None if never), and the
        ``status`` now."""
        now = time.monotonic()
        with self._lock:
            out = []
            for pid in self._order:
                rec = self._preds[pid]
                status, started, ended = state_at(rec, now)
                out.append(
                    {
                        "id": pid,
                        "model": rec.model,
                        "status": status,
                        "created": rec.created,
                        "started": started,
                        "ended": ended,
                        "first_download": rec.first_download,
                    }
                )
            return out

    def never_downloaded(self) -> list[str]:
        """Ids of predictions that have succeeded by now and whose output nobody fetched."""
        now = time.monotonic()
        with self._lock:
            return [
                pid
                for pid in self._order
                if self._preds[pid].first_download is None and state_at(self._preds[pid], now)[0] == "succeeded"
            ]

    def expire_outputs(self) -> int:
        """Make every output that exists now answer 404 (Replicate deletes them after ~1 h)."""
        now = time.monotonic()
        n = 0
        with self._lock:
            for rec in self._preds.values():
                if state_at(rec, now)[0] == "succeeded" and not rec.expired:
                    rec.expired = True
                    n += 1
        return n
