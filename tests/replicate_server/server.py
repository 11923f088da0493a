"""The server: its lifecycle (start, stop, reset), the lock and seeded rng its parts share, and the timer thread
that fires webhook deliveries at the moment a prediction starts or ends."""

from __future__ import annotations

import base64
import concurrent.futures
import copy
import hashlib
import heapq
import itertools
import os
import random
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from tests.replicate_server.billing import Billing
from tests.replicate_server.creates import Creates
from tests.replicate_server.faults import Faults
from tests.replicate_server.files import Files
from tests.replicate_server.inline import Inline
from tests.replicate_server.limits import AccountLimits
from tests.replicate_server.models import Models
from tests.replicate_server.plumbing import Handler, HTTPServer
from tests.replicate_server.records import Records
from tests.replicate_server.routes import Routes
from tests.replicate_server.schemas import MODELS, VERSIONS
from tests.replicate_server.state import PredictionState
from tests.replicate_server.webhooks import Webhooks

DEFAULT_TOKEN = "r8_test_token_not_real"


class ReplicateServer(
    Routes, Creates, Models, Files, Inline, Webhooks, AccountLimits, Faults, Records, Billing, PredictionState
):
    """In-process fake of api.replicate.com + replicate.delivery. See the package docstring."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        latency: float = 0.0,
        jitter: float = 0.0,
        seed: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.latency = float(latency)
        self.jitter = float(jitter)
        self.seed = seed
        self.host = host
        self.port = port
        self.url = ""
        self.output_bytes = 4096
        self.retry_after: float = 1.0
        self.wait_timeout_as_starting = True
        self.models = copy.deepcopy(MODELS)  # this server's own copy: tests may change it
        self.versions = dict(VERSIONS)
        self.server_errors: list[str] = []  # tracebacks of unexpected handler errors
        self._lock = threading.RLock()
        self._stop_event = threading.Event()
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._mono0 = time.monotonic()
        self._wall0 = time.time()
        # Webhooks: one signing secret per server (from the seed when there is one), and a
        # scheduler thread that fires deliveries at the moment a prediction starts or ends.
        self._seed_key = str(seed) if seed is not None else os.urandom(8).hex()
        self.webhook_secret = (
            "whsec_" + base64.b64encode(hashlib.sha256(f"whsec:{self._seed_key}".encode()).digest()).decode()
        )
        # GET /v1/account (a read): the token's account, as Replicate shows it
        self.account = {"type": "user", "username": "pixelglow-tests", "name": "PixelGlow tests", "github_url": None}
        self._sched_cv = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Callable, tuple]] = []
        self._seq = itertools.count()
        self._gen = 0
        self._sched_thread: threading.Thread | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._reset_state()

    # ---------------------------------------------------------------- lifecycle
    def _reset_state(self) -> None:
        with self._lock:
            self._rng = random.Random(self.seed)
            self._reset_faults()
            self._reset_inline()
            self._reset_limits()
            self._reset_timing()
            self._reset_webhooks()
            self._reset_records()

    def reset(self) -> None:
        """Clear counters, predictions, pending webhooks and faults; keep token, latency,
        jitter, output_bytes and the webhook secret."""
        with self._sched_cv:
            self._gen += 1
            self._heap.clear()
        self._reset_state()

    def start(self) -> ReplicateServer:
        if self._httpd is not None:
            return self
        self._stop_event.clear()
        httpd = HTTPServer((self.host, self.port), Handler, self)
        self._httpd = httpd
        host, port = httpd.server_address[:2]
        self.port = port
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"replicate-server:{port}", daemon=True
        )
        self._thread.start()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=16, thread_name_prefix=f"replicate-webhook:{port}"
        )
        self._sched_thread = threading.Thread(target=self._sched_loop, name=f"replicate-timers:{port}", daemon=True)
        self._sched_thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stop_event.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._sched_cv:
            self._gen += 1
            self._heap.clear()
            self._sched_cv.notify_all()
        if self._sched_thread is not None:
            self._sched_thread.join(timeout=5)
            self._sched_thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ReplicateServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _record_error(self, text: str) -> None:
        with self._lock:
            self.server_errors.append(text)

    # ---------------------------------------------------------------- timers
    def _at(self, when: float, fn: Callable, *args: Any) -> None:
        with self._sched_cv:
            heapq.heappush(self._heap, (when, next(self._seq), fn, args))
            self._sched_cv.notify()

    def _sched_loop(self) -> None:
        while not self._stop_event.is_set():
            with self._sched_cv:
                now = time.monotonic()
                due = []
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap))
                if not due:
                    wait = self._heap[0][0] - now if self._heap else 0.5
                    self._sched_cv.wait(min(wait, 0.5))
                    continue
            pool = self._pool
            for _, _, fn, args in due:
                if pool is None:
                    return
                try:
                    pool.submit(self._guarded, fn, *args)
                except RuntimeError:  # pool shut down: the server is stopping
                    return

    def _guarded(self, fn: Callable, *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - keep the timers running, report like a handler error
            self._record_error(traceback.format_exc())
