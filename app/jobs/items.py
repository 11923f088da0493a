"""Running a job's items on a thread pool and handing their events to the job's thread.

Items are network-bound (create, wait, download), so they run on threads: the replicate
client's synchronous API needs no event loop inside Huey's thread workers. Only the job's own
thread touches the database: the item threads report events on a queue, and the loop here
hands each to the job runner, keeps the lease's heartbeat and stops the items on a cancel.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain, zip_longest

from app.providers.base import Generator, ItemFailed, ItemSpec, Stopped

log = logging.getLogger("app.pipeline")

HEARTBEAT_SECONDS = 1.0


@dataclass
class Event:
    kind: str  # created | stored | failed | stopped | crashed
    spec: ItemSpec
    value: object = None


def start_order(specs: list[ItemSpec]) -> list[ItemSpec]:
    """The order items start in: every model's first example before any second one, genders taking turns
    (male, female, male, …), so a job canceled part way has started as many of one gender as of the other."""
    by_gender: dict[str, list[ItemSpec]] = {}
    for spec in sorted(specs, key=lambda s: (s.index, s.model_id)):
        by_gender.setdefault(spec.gender, []).append(spec)
    turns = [by_gender[g] for g in sorted(by_gender, key=lambda g: (g != "male", g))]
    return [s for s in chain.from_iterable(zip_longest(*turns)) if s is not None]


class ItemPool:
    """One job's items in flight. `handle(event)` records an event; `beat()` keeps the lease and says
    whether an admin asked to cancel."""

    def __init__(self, generator: Generator, concurrency: int, name: str) -> None:
        self.generator = generator
        self.concurrency = concurrency
        self.name = name
        self.events: queue.Queue[Event] = queue.Queue()
        self.stop = threading.Event()

    def run(
        self,
        specs: list[ItemSpec],
        handle: Callable[[Event], None],
        beat: Callable[[], bool],
        salvage: Callable[[Event], None],
    ) -> None:
        """Run every item to its end. After a crash of any item the others are stopped, what they still
        reported goes to `salvage` (prediction ids above all, so a retry resumes them), and the crash is raised."""
        if not specs:
            return
        crash: BaseException | None = None
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(specs)), thread_name_prefix=self.name)
        try:
            for spec in specs:
                pool.submit(self.work, spec)
            crash = self.handle_until_done(len(specs), handle, beat)
        except BaseException as exc:
            crash = exc
        finally:
            if crash is not None:
                self.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            if crash is not None:
                self.drain(salvage)
        if crash is not None:
            raise crash

    def work(self, spec: ItemSpec) -> None:
        """One item, on a pool thread: its outcome becomes an event."""

        def on_created(prediction_id: str) -> None:
            self.events.put(Event("created", spec, prediction_id))

        try:
            result = self.generator.run(spec, on_created, self.stop)
            self.events.put(Event("stored", spec, result))
        except ItemFailed as exc:
            self.events.put(Event("failed", spec, exc))  # str(exc) is the reason; it carries predict_time
        except Stopped:
            self.events.put(Event("stopped", spec))
        except BaseException as exc:  # not the model's fault: the whole attempt stops and Huey retries it
            self.events.put(Event("crashed", spec, exc))

    def handle_until_done(
        self, outstanding: int, handle: Callable[[Event], None], beat: Callable[[], bool]
    ) -> BaseException | None:
        """Hand over events until every item has ended; returns an item's crash, if one crashed.
        Keeps the lease's heartbeat meanwhile and stops the items when an admin cancels."""
        last_beat = time.monotonic()
        while outstanding:
            try:
                event = self.events.get(timeout=0.25)
            except queue.Empty:
                event = None
            if event is not None:
                handle(event)
                if event.kind == "crashed":
                    return event.value if isinstance(event.value, BaseException) else RuntimeError(event.value)
                if event.kind != "created":
                    outstanding -= 1
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                last_beat = time.monotonic()
                if beat() and not self.stop.is_set():
                    log.info("%s cancel requested", self.name)
                    self.stop.set()  # items leave their predictions; the runner cancels them
        return None

    def drain(self, salvage: Callable[[Event], None]) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            if event.kind in ("created", "stored", "failed"):
                salvage(event)
