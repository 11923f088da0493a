"""Provider faults a test turns on: failed, aborted and refused predictions, failing and expired downloads.

Every random decision comes from the server's one ``random.Random(seed)``, consulted only when the matching
knob is non-zero, so a seeded, sequential run is repeatable.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from tests.replicate_server.plumbing import problem


class Faults:
    """Fault knobs (plain attributes, changeable while the server runs; reset with the server)."""

    _lock: threading.RLock
    _rng: random.Random

    def _reset_faults(self) -> None:
        self.fail_rate = 0.0
        self.abort_rate = 0.0
        self.create_error_rate = 0.0
        self.download_error_rate = 0.0
        self.download_404_rate = 0.0
        self.fail_when: Callable[[str, dict], bool] | None = None
        self.output_ttl: float | None = None  # seconds after completion before outputs 404

    def _roll(self, rate: float) -> bool:
        """True with probability ``rate``; the rng is not consulted when the rate is zero. Call under the lock."""
        return rate > 0 and self._rng.random() < rate

    def _refuse_create_at_random(self) -> None:
        """A 500 or 503 for ``create_error_rate`` of the creates."""
        with self._lock:
            if not self._roll(self.create_error_rate):
                return
            self.create_errors += 1
            code = self._rng.choice((500, 503))
        title = "Internal Server Error" if code == 500 else "Service Unavailable"
        raise problem(code, title, "Something went wrong, please try again (simulated)")

    def _outcome(self, failing: bool) -> str:
        """How a new prediction ends: ``fail_when`` or a run-time error, then ``fail_rate``, ``abort_rate``."""
        if failing or self._roll(self.fail_rate):
            return "failed"
        if self._roll(self.abort_rate):
            return "aborted"
        return "succeeded"

    def _download_status(self, servable: bool) -> int:
        """200, or 404 / 503 for ``download_404_rate`` / ``download_error_rate`` of the downloads. Under the lock."""
        code = 200 if servable else 404
        if servable and self._roll(self.download_404_rate):
            code = 404
        if code == 200 and self._roll(self.download_error_rate):
            code = 503
        return code
