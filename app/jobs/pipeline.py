"""The generation pipeline: run a job's items, store the results, settle model usage.

Plain Python with an app context, no request: the Huey task calls `run_job`, tests call
it directly. The job's rows are the durable truth, so running a job again (a Huey
retry, a crash recovery) resumes it: finished items are skipped, an item that already
has a prediction id polls that prediction instead of creating another, and the unique
key on the gallery means an example is never stored twice.

The parts: `lease` (one worker per job), `items` (the thread pool and its events),
`progress` (the live record), `outcome` (how the job ended); this module runs the stages
and records each event in the job's rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update

from app import provider_rows
from app.core.database import db
from app.gallery.example_json import example_json
from app.jobs import outcome, rows
from app.jobs.items import Event, ItemPool, start_order
from app.jobs.lease import Lease, LeaseLost
from app.jobs.needs import JobServices
from app.jobs.progress import ProgressRecord, item_json, publish
from app.jobs.writes import writes_for
from app.models import ITEM_OPEN, JOB_FINAL, GalleryExample, ItemState, Job, JobItem, JobStatus, Preset, iso, utcnow
from app.providers.base import Generator, ItemFailed, ItemResult, ItemSpec
from app.spend.ledger import JobLedger

log = logging.getLogger("app.pipeline")

RECENT_DURATIONS = 50  # how many of a provider's latest predictions plan when to read the next ones

__all__ = ["JobNotFound", "JobRunner", "LeaseLost", "run_job"]


class JobNotFound(Exception):
    pass


@dataclass
class ItemCopy:
    """A plain copy of a job item: the runner reads these, never expired ORM rows."""

    id: int
    model_id: str
    gender: str
    reference_url: str
    example_index: int
    state: str
    prediction_id: str | None
    error: str | None

    @classmethod
    def of(cls, i: JobItem) -> ItemCopy:
        return cls(i.id, i.model_id, i.gender, i.reference_url, i.example_index, i.state, i.prediction_id, i.error)


class JobRunner:
    def __init__(self, job_id: str, services: JobServices, generator: Generator, concurrency: int | None = None):
        self.job_id = job_id
        self.services = services
        self.generator = generator
        self.lease = Lease(job_id, services.settings.job_stale_seconds)
        self.pool = ItemPool(generator, concurrency or services.settings.concurrency, f"job-{job_id[:8]}")
        self._stage: str | None = None

    # -- the stages ------------------------------------------------------------
    def run(self) -> dict | None:
        leased = self.lease.take()  # before reading the items, so no other worker changes them meanwhile
        job = db.session.get(Job, self.job_id)
        if job is None:
            raise JobNotFound(self.job_id)
        self.load(job)
        if not leased:
            if job.status not in JOB_FINAL:
                self._log("skipped", reason="another worker holds this job")
                return None
            return outcome.summary(self.job_id, self.status, self.items.values())
        try:
            return self.run_leased()
        finally:
            self.lease.release()

    def load(self, job: Job) -> None:
        preset = db.session.get(Preset, job.preset_id)
        assert preset is not None  # a preset's jobs go with it (ON DELETE CASCADE)
        self.preset_id, self.preset_name = preset.id, preset.name
        self.items = {i.id: ItemCopy.of(i) for i in job.items}
        self.prompt, self.provider, self.settings = job.prompt, job.provider, dict(job.settings or {})
        self.provider_spec = provider_rows.find(job.provider)  # its row, even retired: read once a job
        stored = db.session.scalars(select(GalleryExample).where(GalleryExample.job_id == job.id))
        self.examples: list[dict] = [example_json(e, self.services.storage) for e in stored]
        self.status, self.finished_at, self.cancel_requested = job.status, job.finished_at, job.cancel_requested
        self.created_at, self.offline, self.examples_per_model = job.created_at, job.offline, job.examples_per_model
        self.created_by, self.regenerate_of = job.created_by, job.regenerate_of
        self.ledger = JobLedger.of(self.services.settings, job)  # the month of its creation (see app.spend)
        self.writes = writes_for(job)  # a gallery's examples and usage, or a comparison's cells

    def run_leased(self) -> dict:
        self.status = JobStatus.RUNNING
        self._log("start")
        self.publish(10, "loading", f'Loaded job for preset "{self.preset_name}"')
        self.confirm_reservations()
        self.publish(20, "selecting", f"{len({i.model_id for i in self.items.values()})} models reserved")
        if not self.cancel_requested:
            recent = rows.recent_durations(self.provider, RECENT_DURATIONS)
            specs = start_order([self.spec(i, recent) for i in self.items.values() if i.state in ITEM_OPEN])
            self.pool.run(specs, self.handle, self.heartbeat, self.salvage)
        if self.cancel_requested:
            self.cancel_open_items()
        self.writes.settle(self.items.values())
        db.session.commit()
        self.publish(85, "recording usage", "Recorded which models were used")
        self.publish(90, "updating gallery", "Gallery updated")
        self.finish()
        return outcome.summary(self.job_id, self.status, self.items.values())

    def confirm_reservations(self) -> None:
        """Every model of the job must still be reserved by it (usage may have been cleared while queued)."""
        open_items = [i for i in self.items.values() if i.state in ITEM_OPEN]
        for item_id in self.writes.confirm(open_items):
            self._item_failed(item_id, "model is held by another job (usage was cleared, or the job reserved it first)")
        db.session.commit()

    def finish(self) -> None:
        status, error = outcome.final_status(self.items.values(), self.cancel_requested)
        done = sum(1 for i in self.items.values() if i.state == ItemState.SUCCEEDED)
        failed = sum(1 for i in self.items.values() if i.state == ItemState.FAILED)
        now = utcnow()
        values = dict(status=status, error=error, done=done, failed=failed, finished_at=now, heartbeat_at=now)
        db.session.execute(update(Job).where(Job.id == self.job_id).values(**values, lease_owner=None))
        db.session.commit()
        self.status, self.finished_at = status, now
        self._log("finish", status=status, done=done, failed=failed)
        self.publish(*outcome.final_progress(status, done, failed, len(self.items)))

    # -- events from the items -----------------------------------------------------
    def handle(self, event: Event) -> None:
        spec = event.spec
        if event.kind == "created":
            self._item_created(spec, str(event.value))
        elif event.kind == "stored":
            assert isinstance(event.value, ItemResult)
            self._item_stored(spec, event.value)
        elif event.kind == "failed":
            failure = event.value if isinstance(event.value, ItemFailed) else ItemFailed(str(event.value))
            self._item_failed(spec.item_id, str(failure), failure)
            db.session.commit()
            self.publish_items()

    def salvage(self, event: Event) -> None:
        """An event reported after a crash: keep it if the database lets us (a retry resumes from it)."""
        try:
            db.session.rollback()
            self.handle(event)
        except Exception:
            db.session.rollback()
            log.exception("job=%s could not record %s for model=%s", self.job_id, event.kind, event.spec.model_id)

    def heartbeat(self) -> bool:
        """Keep the lease fresh; returns True when an admin asked to cancel the job."""
        self.cancel_requested = self.lease.beat()
        return self.cancel_requested

    def _item_created(self, spec: ItemSpec, prediction_id: str) -> None:
        rows.record_created(spec.item_id, prediction_id)  # the lease's heartbeat is kept by the item loop
        item = self.items[spec.item_id]
        item.prediction_id, item.state = prediction_id, ItemState.PROCESSING
        self._log("created", model=spec.model_id, prediction=prediction_id)
        self.publish_items()

    def _item_stored(self, spec: ItemSpec, result: ItemResult) -> None:
        shown = self.writes.stored(spec, result, self.services.storage, self.ledger)
        if shown is not None:
            self.examples.append(shown)
        self.items[spec.item_id].state, self.items[spec.item_id].error = ItemState.SUCCEEDED, None
        self._log("stored", model=spec.model_id, prediction=result.prediction_id)
        self.publish_items()

    def _item_failed(self, item_id: int, reason: str, failure: ItemFailed | None = None) -> None:
        item = self.items[item_id]
        if failure is not None:  # it ended at the generator: the ledger gets what it cost (0 if never created)
            self.ledger.ended(item_id, item.model_id, failure.succeeded, failure.predict_time)
        rows.record_failed(self.job_id, item_id, reason)
        item.state, item.error = ItemState.FAILED, reason
        self._log("failed", model=item.model_id, prediction=item.prediction_id, error=reason)

    def cancel_open_items(self) -> None:
        """Cancel in-flight predictions (their cost, as the cancel's answer tells, to the ledger), close open items."""
        for item in self.items.values():
            if item.state not in ITEM_OPEN:
                continue
            if item.prediction_id:
                self.ledger.stopped(item.id, item.model_id, self.generator.cancel(item.prediction_id))
            item.state, item.error = ItemState.CANCELED, "canceled by an admin"
            rows.record_canceled(item.id, item.error)
            self._log("canceled", model=item.model_id, prediction=item.prediction_id)
        db.session.commit()

    # -- progress ------------------------------------------------------------------
    def publish_items(self) -> None:
        finished = sum(1 for i in self.items.values() if i.state not in ITEM_OPEN)
        done = sum(1 for i in self.items.values() if i.state == ItemState.SUCCEEDED)
        percent = 20 + int(60 * finished / (len(self.items) or 1))
        self.publish(percent, "generating", f"{done} of {len(self.items)} examples stored")

    def publish(self, percent: int, stage: str, message: str) -> None:
        if stage != self._stage:
            self._stage = stage
            self._log("stage", stage=stage, percent=percent)
        items = list(self.items.values())
        record = ProgressRecord(
            job_id=self.job_id,
            preset_id=self.preset_id,
            status=self.status,
            percent=percent,
            stage=stage,
            message=message,
            done=sum(1 for i in items if i.state == ItemState.SUCCEEDED),
            failed=sum(1 for i in items if i.state == ItemState.FAILED),
            canceled=sum(1 for i in items if i.state == ItemState.CANCELED),
            total=len(items),
            offline=self.offline,
            examples_per_model=self.examples_per_model,
            items=[item_json(i) for i in items],
            examples=self.examples,
            created_at=iso(self.created_at),
            created_by=self.created_by,
            finished_at=iso(self.finished_at) if self.status in JOB_FINAL else None,
            updated_at=iso(utcnow()),
            regenerate_of=self.regenerate_of,
        )
        publish(self.services.progress, record)

    def spec(self, item: ItemCopy, recent: tuple[float, ...] = ()) -> ItemSpec:
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
            recent_seconds=recent,
            provider_spec=self.provider_spec,
            output_key=self.writes.output_keys.get(item.id),
        )

    def _log(self, what: str, **fields: object) -> None:
        parts = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        log.info("job=%s preset=%s %s %s", self.job_id, self.preset_id, what, parts)


def run_job(job_id: str, services: JobServices, generator: Generator | None = None) -> dict | None:
    job = db.session.get(Job, job_id)
    if job is None:
        raise JobNotFound(job_id)
    generator = generator or services.generator(offline=job.offline)
    return JobRunner(job_id, services, generator).run()
