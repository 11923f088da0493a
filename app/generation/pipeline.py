"""The generation pipeline: run a job's items, store the results, settle model usage.

Plain Python with an app context, no request: the Huey task calls `run_job`, tests call
it directly. The job's rows are the durable truth, so running a job again (a Huey
retry, a crash recovery) resumes it: finished items are skipped, an item that already
has a prediction id polls that prediction instead of creating another, and the unique
key on the gallery means an example is never stored twice.

Items run on a thread pool (network-bound work: threads keep the replicate client's
synchronous API and need no event loop inside Huey's thread workers). Only the calling
thread touches the database and the progress record; workers report events on a queue.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..database import db
from ..models import (
    ITEM_OPEN,
    JOB_FINAL,
    JOB_LIVE,
    GalleryExample,
    Job,
    JobItem,
    Preset,
    PresetModelUsage,
    iso,
    new_id,
    utcnow,
)
from ..providers.base import ItemFailed, ItemResult, ItemSpec, Stopped
from ..selection import settle_usage
from .jobs import item_json

log = logging.getLogger("app.pipeline")

HEARTBEAT_SECONDS = 1.0
FINAL_WRITE_PATIENCE = 30.0


class JobNotFound(Exception):
    pass


class LeaseLost(Exception):
    """Another worker took the job over (this one's heartbeat went stale): stop without finishing it."""


@dataclass
class ItemState:
    """A plain copy of a job item: the runner reads these, never expired ORM rows."""

    id: int
    model_id: str
    gender: str
    reference_url: str
    example_index: int
    state: str
    prediction_id: str | None
    error: str | None


@dataclass
class Event:
    kind: str  # created | stored | failed | stopped | crashed
    spec: ItemSpec
    value: object = None


class JobRunner:
    def __init__(self, job_id: str, services, generator, concurrency: int | None = None):
        self.job_id = job_id
        self.services = services
        self.generator = generator
        self.concurrency = concurrency or services.settings.concurrency
        self.events: queue.Queue[Event] = queue.Queue()
        self.stop = threading.Event()
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"

    # -- the stages ------------------------------------------------------------
    def run(self) -> dict | None:
        if db.session.get(Job, self.job_id) is None:
            raise JobNotFound(self.job_id)
        leased = self.take_lease()  # before reading the items, so no other worker changes them meanwhile
        job = db.session.get(Job, self.job_id)
        self.load(job)
        if not leased:
            if job.status not in JOB_FINAL:
                self._log("skipped", reason="another worker holds this job")
                return None
            return self.summary()
        try:
            return self.run_leased()
        finally:
            self.release_lease()

    def load(self, job: Job) -> None:
        self.preset = db.session.get(Preset, job.preset_id)
        self.preset_id, self.preset_name = self.preset.id, self.preset.name
        self.items = {
            i.id: ItemState(
                i.id, i.model_id, i.gender, i.reference_url, i.example_index, i.state, i.prediction_id, i.error
            )
            for i in job.items
        }
        self.prompt, self.provider, self.settings = job.prompt, job.provider, dict(job.settings or {})
        self.examples: list[dict] = [
            self._example_record(e)
            for e in db.session.scalars(select(GalleryExample).where(GalleryExample.job_id == job.id))
        ]
        self.status, self.finished_at = job.status, job.finished_at
        self.created_at, self.offline, self.examples_per_model = job.created_at, job.offline, job.examples_per_model
        self.created_by = job.created_by
        self.cancel_requested = job.cancel_requested

    def take_lease(self) -> bool:
        """Claim the job for this worker unless a live worker holds it (its heartbeat is fresh)."""
        now = utcnow()
        stale_before = now - timedelta(seconds=self.services.settings.job_stale_seconds)
        claimed = db.session.execute(
            update(Job)
            .where(
                Job.id == self.job_id,
                Job.status.in_(JOB_LIVE),
                or_(Job.lease_owner.is_(None), Job.heartbeat_at.is_(None), Job.heartbeat_at < stale_before),
            )
            .values(
                lease_owner=self.worker,
                heartbeat_at=now,
                status="running",
                attempts=Job.attempts + 1,
                started_at=func.coalesce(Job.started_at, now),
            )
        ).rowcount
        db.session.commit()
        return claimed == 1

    def release_lease(self) -> None:
        try:
            db.session.rollback()
            db.session.execute(
                update(Job).where(Job.id == self.job_id, Job.lease_owner == self.worker).values(lease_owner=None)
            )
            db.session.commit()
        except Exception as exc:  # database gone: the lease simply goes stale
            log.warning("job=%s lease not released: %s", self.job_id, exc)

    def run_leased(self) -> dict:
        self.status = "running"
        self._log("start")
        self.publish(10, "loading", f'Loaded job for preset "{self.preset_name}"')

        self.confirm_reservations()
        self.publish(20, "selecting", f"{len({i.model_id for i in self.items.values()})} models reserved")

        if not self.cancel_requested:
            self.run_items([self._spec(i) for i in self.items.values() if i.state in ITEM_OPEN])
        if self.cancel_requested:
            self.cancel_open_items()

        self.settle_usage()
        self.publish(85, "recording usage", "Recorded which models were used")
        if any(i.state == "succeeded" for i in self.items.values()):
            db.session.execute(update(Preset).where(Preset.id == self.preset_id).values(last_generated=utcnow()))
            db.session.commit()
        self.publish(90, "updating gallery", "Gallery updated")
        self.finish()
        return self.summary()

    def confirm_reservations(self) -> None:
        """Every model of the job must still be reserved by it (usage may have been cleared while queued)."""
        owners = dict(
            db.session.execute(
                select(PresetModelUsage.model_id, PresetModelUsage.job_id).where(
                    PresetModelUsage.preset_id == self.preset_id,
                    PresetModelUsage.model_id.in_({i.model_id for i in self.items.values()}),
                )
            ).all()
        )
        for item in self.items.values():
            if item.state not in ITEM_OPEN:
                continue
            owner = owners.get(item.model_id, "missing")
            if owner == "missing":
                db.session.add(
                    PresetModelUsage(
                        preset_id=self.preset_id, model_id=item.model_id, state="reserved", job_id=self.job_id
                    )
                )
                owners[item.model_id] = self.job_id
            elif owner != self.job_id:
                self._item_failed(item.id, "model was taken by another job after this preset's usage was cleared")
        db.session.commit()

    def run_items(self, specs: list[ItemSpec]) -> None:
        if not specs:
            return
        crash: BaseException | None = None
        pool = ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(specs)), thread_name_prefix=f"job-{self.job_id[:8]}"
        )
        try:
            for spec in specs:
                pool.submit(self._work, spec)
            crash = self._handle_events_until_done(len(specs))
        except BaseException as exc:
            crash = exc
        finally:
            if crash is not None:
                self.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            if crash is not None:
                self._drain_after_crash()
        if crash is not None:
            self._log("crashed", error=repr(crash))
            raise crash

    def _handle_events_until_done(self, outstanding: int) -> BaseException | None:
        """Record the workers' events until every item has ended; returns a worker's crash, if one crashed.
        Keeps the lease's heartbeat meanwhile and stops the workers when an admin cancels."""
        last_beat = time.monotonic()
        while outstanding:
            try:
                event = self.events.get(timeout=0.25)
            except queue.Empty:
                event = None
            if event is not None:
                self.handle(event)
                if event.kind == "crashed":
                    return event.value
                if event.kind != "created":
                    outstanding -= 1
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                last_beat = time.monotonic()
                if self.heartbeat() and not self.stop.is_set():
                    self._log("cancel requested")
                    self.stop.set()  # workers leave their predictions; cancel_open_items cancels them
        return None

    def _drain_after_crash(self) -> None:
        """Keep what the workers still reported (prediction ids above all) so a retry resumes them."""
        db.session.rollback()
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            if event.kind in ("created", "stored", "failed"):
                try:
                    self.handle(event)
                except Exception:
                    db.session.rollback()
                    log.exception(
                        "job=%s could not record %s for model=%s", self.job_id, event.kind, event.spec.model_id
                    )

    def settle_usage(self) -> None:
        settle_usage(self.preset_id, self.job_id, self.items.values())
        db.session.commit()

    def finish(self) -> None:
        done = sum(1 for i in self.items.values() if i.state == "succeeded")
        failed = sum(1 for i in self.items.values() if i.state == "failed")
        total = len(self.items)
        if self.cancel_requested:
            status, error = "canceled", f"Canceled by an admin after {done} of {total} examples"
        elif done == total:
            status, error = "succeeded", None
        elif done == 0:
            status = "failed"
            first = next((i.error for i in self.items.values() if i.error), "no example could be made")
            error = f"All {total} predictions failed; first reason: {first}"
        else:
            status, error = "partial", f"{failed} of {total} predictions failed"
        db.session.execute(
            update(Job)
            .where(Job.id == self.job_id)
            .values(
                status=status,
                error=error,
                done=done,
                failed=failed,
                finished_at=utcnow(),
                heartbeat_at=utcnow(),
                lease_owner=None,
            )
        )
        db.session.commit()
        self.status, self.finished_at = status, utcnow()
        self._log("finish", status=status, done=done, failed=failed)
        self.publish(100, "complete", self._final_message(status, done, failed, total))

    # -- events from the workers ----------------------------------------------
    def _work(self, spec: ItemSpec) -> None:
        def on_created(prediction_id: str) -> None:
            self.events.put(Event("created", spec, prediction_id))

        try:
            result = self.generator.run(spec, on_created, self.stop)
            self.events.put(Event("stored", spec, result))
        except ItemFailed as exc:
            self.events.put(Event("failed", spec, str(exc)))
        except Stopped:
            self.events.put(Event("stopped", spec))
        except BaseException as exc:  # not the model's fault: the whole attempt stops and Huey retries it
            self.events.put(Event("crashed", spec, exc))

    def handle(self, event: Event) -> None:
        spec = event.spec
        if event.kind == "created":
            db.session.execute(
                update(JobItem)
                .where(JobItem.id == spec.item_id)
                .values(prediction_id=event.value, state="processing", updated_at=utcnow())
            )
            db.session.commit()  # the lease's heartbeat is kept by the loop, once a second
            item = self.items[spec.item_id]
            item.prediction_id, item.state = event.value, "processing"
            self._log("created", model=spec.model_id, prediction=event.value)
            self.publish_items()
        elif event.kind == "stored":
            self._item_stored(spec, event.value)
        elif event.kind == "failed":
            self._item_failed(spec.item_id, event.value)
            db.session.commit()
            self.publish_items()

    def _item_stored(self, spec: ItemSpec, result: ItemResult) -> None:
        example = GalleryExample(
            id=new_id(),
            preset_id=spec.preset_id,
            job_id=spec.job_id,
            model_id=spec.model_id,
            gender=spec.gender,
            example_index=spec.index,
            provider=spec.provider,
            prompt=spec.prompt,
            image_path=result.image_key,
            prediction_id=result.prediction_id,
            offline=result.offline,
            created_at=utcnow(),
        )
        db.session.add(example)
        db.session.execute(
            update(JobItem)
            .where(JobItem.id == spec.item_id)
            .values(state="succeeded", example_id=example.id, error=None, updated_at=utcnow())
        )
        db.session.execute(update(Job).where(Job.id == self.job_id).values(done=Job.done + 1, heartbeat_at=utcnow()))
        record = self._example_record(example)  # before the commit expires the row
        try:
            db.session.commit()
        except IntegrityError:  # stored by an earlier attempt already: keep that one
            db.session.rollback()
            log.warning("job=%s model=%s example %s was already stored", self.job_id, spec.model_id, spec.index)
        else:
            self.examples.append(record)
        self.items[spec.item_id].state = "succeeded"
        self.items[spec.item_id].error = None
        self._log("stored", model=spec.model_id, prediction=result.prediction_id)
        self.publish_items()

    def _item_failed(self, item_id: int, reason: str) -> None:
        db.session.execute(
            update(JobItem).where(JobItem.id == item_id).values(state="failed", error=reason, updated_at=utcnow())
        )
        db.session.execute(
            update(Job).where(Job.id == self.job_id).values(failed=Job.failed + 1, heartbeat_at=utcnow())
        )
        item = self.items[item_id]
        item.state, item.error = "failed", reason
        self._log("failed", model=item.model_id, prediction=item.prediction_id, error=reason)

    def heartbeat(self) -> bool:
        """Keep the lease fresh; returns True when an admin asked to cancel the job."""
        row = db.session.execute(
            update(Job)
            .where(Job.id == self.job_id, Job.lease_owner == self.worker)
            .values(heartbeat_at=utcnow())
            .returning(Job.cancel_requested)
        ).first()
        db.session.commit()
        if row is None:
            raise LeaseLost(f"job {self.job_id} was taken over by another worker after this one went quiet")
        self.cancel_requested = bool(row[0])
        return self.cancel_requested

    def cancel_open_items(self) -> None:
        """Cancel the job's in-flight predictions at Replicate and close every open item as canceled."""
        for item in self.items.values():
            if item.state not in ITEM_OPEN:
                continue
            if item.prediction_id:
                self.generator.cancel(item.prediction_id)
            item.state, item.error = "canceled", "canceled by an admin"
            db.session.execute(
                update(JobItem)
                .where(JobItem.id == item.id)
                .values(state="canceled", error=item.error, updated_at=utcnow())
            )
            self._log("canceled", model=item.model_id, prediction=item.prediction_id)
        db.session.commit()

    # -- progress ------------------------------------------------------------------
    def publish_items(self) -> None:
        finished = sum(1 for i in self.items.values() if i.state not in ITEM_OPEN)
        total = len(self.items) or 1
        done = sum(1 for i in self.items.values() if i.state == "succeeded")
        self.publish(20 + int(60 * finished / total), "generating", f"{done} of {len(self.items)} examples stored")

    def publish(self, percent: int, stage: str, message: str) -> None:
        if stage != getattr(self, "_stage", None):
            self._stage = stage
            self._log("stage", stage=stage, percent=percent)
        items = list(self.items.values())
        finished = self.status in JOB_FINAL
        record = {
            "jobId": self.job_id,
            "presetId": self.preset_id,
            "status": self.status,
            "percent": percent,
            "stage": stage,
            "message": message,
            "done": sum(1 for i in items if i.state == "succeeded"),
            "failed": sum(1 for i in items if i.state == "failed"),
            "total": len(items),
            "offline": self.offline,
            "examplesPerModel": self.examples_per_model,
            "items": [item_json(i) for i in items],
            "examples": self.examples,
            "createdAt": iso(self.created_at),
            "createdBy": self.created_by,
            "finishedAt": iso(self.finished_at) if finished else None,
            "updatedAt": iso(utcnow()),
        }
        # Progress is a mirror: a failed write is caught up by the next one. The final record has no
        # next one, so it is retried for a while (Redis restarting) before the job is left to its rows.
        deadline = time.monotonic() + (FINAL_WRITE_PATIENCE if finished else 0)
        delay = 0.2
        while True:
            try:
                self.services.progress.write(self.job_id, record, finished=finished)
                return
            except Exception as exc:
                if time.monotonic() >= deadline:
                    log.warning("job=%s progress not written: %s", self.job_id, exc)
                    return
                time.sleep(delay)
                delay = min(2.0, delay * 2)

    # -- helpers -----------------------------------------------------------------
    def _spec(self, item: ItemState) -> ItemSpec:
        return ItemSpec(
            item_id=item.id,
            job_id=self.job_id,
            preset_id=self.preset_id,
            preset_name=self.preset_name,
            model_id=item.model_id,
            gender=item.gender,
            reference_url=item.reference_url,
            index=item.example_index,
            prompt=self.prompt,
            provider=self.provider,
            settings=self.settings,
            prediction_id=item.prediction_id,
        )

    def _example_record(self, example: GalleryExample) -> dict:
        return {
            "id": example.id,
            "modelId": example.model_id,
            "gender": example.gender,
            "index": example.example_index,
            "imageUrl": self.services.storage.url(example.image_path),
            "offline": example.offline,
            "createdAt": iso(example.created_at),
        }

    @staticmethod
    def _final_message(status: str, done: int, failed: int, total: int) -> str:
        if status == "canceled":
            return f"Canceled: {done} of {total} examples were stored before the cancel"
        if status == "succeeded":
            return f"Done: {done} examples stored"
        if status == "partial":
            return f"Finished with failures: {done} stored, {failed} failed"
        return f"Failed: none of the {total} predictions produced an example"

    def summary(self) -> dict:
        items = self.items.values()
        return {
            "jobId": self.job_id,
            "status": self.status,
            "done": sum(1 for i in items if i.state == "succeeded"),
            "failed": sum(1 for i in items if i.state == "failed"),
            "total": len(self.items),
            "failures": [
                {"modelId": i.model_id, "index": i.example_index, "error": i.error}
                for i in self.items.values()
                if i.state == "failed"
            ],
        }

    def _log(self, outcome: str, **fields) -> None:
        parts = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        log.info("job=%s preset=%s %s %s", self.job_id, self.preset_id, outcome, parts)


def run_job(job_id: str, services, generator=None) -> dict:
    job = db.session.get(Job, job_id)
    if job is None:
        raise JobNotFound(job_id)
    generator = generator or services.generator(offline=job.offline)
    return JobRunner(job_id, services, generator).run()
