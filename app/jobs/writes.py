"""What a job's results write, by the kind of job: a gallery job adds examples and settles its models' usage; a
comparison's job fills its cells and touches neither the gallery nor the usage (the preset stays as it was until
an admin adopts a variant). The runner and recovery ask `writes_for(job)` instead of branching on the kind."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

from sqlalchemy import select, update

from app.core.database import db, rowcount
from app.gallery.example_sizes import size_columns
from app.jobs import rows
from app.models import ComparisonCell, ItemState, Job, JobItem, Preset, utcnow
from app.pool.selection import settle_usage
from app.providers.base import ItemResult, ItemSpec
from app.spend.ledger import JobLedger
from app.storage.base import Storage


class GalleryWrites:
    """A gallery job: examples in the preset's gallery, models reserved while it runs and used when it ends."""

    def __init__(self, job: Job) -> None:
        self.preset_id, self.job_id = job.preset_id, job.id
        self.output_keys: dict[int, str] = {}  # every output goes to the gallery's folder of its job

    def confirm(self, open_items: Sequence[rows.OpenItem]) -> list[int]:
        """The items whose model another job holds now (see rows.confirm_reservations)."""
        return rows.confirm_reservations(self.preset_id, self.job_id, open_items)

    def stored(self, spec: ItemSpec, result: ItemResult, storage: Storage, ledger: JobLedger) -> dict | None:
        return rows.record_stored(spec, result, storage, ledger)

    def settle(self, items: Iterable[Any]) -> None:
        """Usage for the models that got an example, the rest released; the preset's last generation (flushed)."""
        if settle_usage(self.preset_id, self.job_id, items):
            db.session.execute(update(Preset).where(Preset.id == self.preset_id).values(last_generated=utcnow()))


class ComparisonWrites:
    """A comparison's job: each item fills its cell; its output is stored under the cell's opaque key."""

    def __init__(self, job: Job) -> None:
        self.comparison_id = job.comparison_id

    @cached_property
    def cell_of(self) -> dict[int, str]:
        """Each item's cell, read when an item is run or stored (recovery only settles: it needs none)."""
        cells = db.session.execute(
            select(ComparisonCell.item_id, ComparisonCell.id).where(ComparisonCell.comparison_id == self.comparison_id)
        )
        return {item_id: cell_id for item_id, cell_id in cells if item_id is not None}

    @cached_property
    def output_keys(self) -> dict[int, str]:
        return {item: f"comparisons/{self.comparison_id}/{cell}" for item, cell in self.cell_of.items()}

    def confirm(self, open_items: Sequence[rows.OpenItem]) -> list[int]:
        return []  # a comparison reserves no model: it may use any, used or not

    def stored(self, spec: ItemSpec, result: ItemResult, storage: Storage, ledger: JobLedger) -> dict | None:
        """The cell gets its output and time, the ledger its cost; None: no gallery example to show. A cell that
        has its output already was stored (and its cost counted) by an earlier attempt: nothing is written twice."""
        values = dict(
            image_path=result.image_key,
            prediction_id=result.prediction_id,
            prediction_seconds=result.prediction_seconds,
            model_version=result.model_version,
            sent_settings=result.settings,
            offline=result.offline,
            **(size_columns(result.sizes) if result.sizes else {}),
        )
        cell = self.cell_of[spec.item_id]
        filled = db.session.execute(
            update(ComparisonCell)
            .where(ComparisonCell.id == cell, ComparisonCell.image_path.is_(None))
            .values(**values)
        )
        if not rowcount(filled):
            db.session.rollback()
            return None
        ledger.ended(spec.item_id, spec.model_id, True, result.predict_time)
        db.session.execute(
            update(JobItem)
            .where(JobItem.id == spec.item_id)
            .values(
                state=ItemState.SUCCEEDED, error=None, prediction_seconds=result.prediction_seconds, updated_at=utcnow()
            )
        )
        db.session.execute(update(Job).where(Job.id == spec.job_id).values(done=Job.done + 1, heartbeat_at=utcnow()))
        db.session.commit()
        return None

    def settle(self, items: Iterable[Any]) -> None:
        return None  # no usage to settle, and the preset's last generation is its galleries'


def writes_for(job: Job) -> GalleryWrites | ComparisonWrites:
    return ComparisonWrites(job) if job.comparison_id else GalleryWrites(job)
