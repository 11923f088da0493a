"""What each item event writes to the job's rows (the durable truth a resume starts from)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.core.database import db
from app.gallery.example_json import example_json
from app.gallery.example_sizes import size_columns
from app.models import GalleryExample, ItemState, Job, JobItem, PresetModelUsage, UsageState, new_id, utcnow
from app.providers.base import ItemResult, ItemSpec
from app.spend.ledger import JobLedger
from app.storage.base import Storage

log = logging.getLogger("app.pipeline")


def record_created(item_id: int, prediction_id: str) -> None:
    """The prediction exists at Replicate: a resume polls it instead of paying for another."""
    db.session.execute(
        update(JobItem)
        .where(JobItem.id == item_id)
        .values(prediction_id=prediction_id, state=ItemState.PROCESSING, updated_at=utcnow())
    )
    db.session.commit()


def record_stored(spec: ItemSpec, result: ItemResult, storage: Storage, ledger: JobLedger) -> dict | None:
    """The example is in our storage: add it to the gallery and its cost to the spend ledger. Returns its
    JSON, or None when an earlier attempt had stored it (and counted its cost) already."""
    sizes = result.sizes
    example = GalleryExample(
        id=new_id(),
        preset_id=spec.preset_id,
        job_id=spec.job_id,
        model_id=spec.model_id,
        gender=spec.gender,
        example_index=spec.index,
        provider=spec.provider,
        prompt=spec.prompt,
        model_version=result.model_version,
        settings=result.settings,
        image_path=result.image_key,
        prediction_id=result.prediction_id,
        offline=result.offline,
        created_at=utcnow(),
        **(size_columns(sizes) if sizes else {}),
    )
    db.session.add(example)
    ledger.ended(spec.item_id, spec.model_id, True, result.predict_time)
    db.session.execute(
        update(JobItem)
        .where(JobItem.id == spec.item_id)
        .values(
            state=ItemState.SUCCEEDED,
            example_id=example.id,
            error=None,
            prediction_seconds=result.prediction_seconds,
            updated_at=utcnow(),
        )
    )
    db.session.execute(update(Job).where(Job.id == spec.job_id).values(done=Job.done + 1, heartbeat_at=utcnow()))
    shown = example_json(example, storage)  # before the commit expires the row
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        log.warning("job=%s model=%s example %s was already stored", spec.job_id, spec.model_id, spec.index)
        return None
    return shown


def record_failed(job_id: str, item_id: int, reason: str) -> None:
    """This model's example could not be made (committed by the caller, with its ledger entry if any)."""
    db.session.execute(
        update(JobItem).where(JobItem.id == item_id).values(state=ItemState.FAILED, error=reason, updated_at=utcnow())
    )
    db.session.execute(update(Job).where(Job.id == job_id).values(failed=Job.failed + 1, heartbeat_at=utcnow()))


def record_canceled(item_id: int, reason: str) -> None:
    """Closed by a cancel (committed by the caller)."""
    db.session.execute(
        update(JobItem).where(JobItem.id == item_id).values(state=ItemState.CANCELED, error=reason, updated_at=utcnow())
    )


def recent_durations(provider: str, limit: int) -> tuple[float, ...]:
    """How long the provider's latest predictions took (create to completion), newest first."""
    rows = db.session.scalars(
        select(JobItem.prediction_seconds)
        .join(Job, Job.id == JobItem.job_id)
        .where(Job.provider == provider, JobItem.prediction_seconds.is_not(None))
        .order_by(JobItem.updated_at.desc())
        .limit(limit)
    ).all()
    db.session.commit()  # end the read transaction: the runner's later writes start fresh
    return tuple(r for r in rows if r is not None)


class OpenItem(Protocol):
    """An item still to make, as far as its reservation goes (the runner's copy of a job item)."""

    @property
    def id(self) -> int: ...

    @property
    def model_id(self) -> str: ...


def confirm_reservations(preset_id: str, job_id: str, open_items: Sequence[OpenItem]) -> list[int]:
    """Reserve again any model of `open_items` whose reservation is gone; returns the ids of the items
    whose model another job holds now (flushed, committed by the caller)."""
    owners = dict(
        db.session.execute(
            select(PresetModelUsage.model_id, PresetModelUsage.job_id).where(
                PresetModelUsage.preset_id == preset_id,
                PresetModelUsage.model_id.in_({i.model_id for i in open_items}),
            )
        ).all()
    )
    taken = []
    for item in open_items:
        owner = owners.get(item.model_id, "missing")
        if owner == "missing":
            db.session.add(
                PresetModelUsage(preset_id=preset_id, model_id=item.model_id, state=UsageState.RESERVED, job_id=job_id)
            )
            owners[item.model_id] = job_id
        elif owner != job_id:
            taken.append(item.id)
    return taken
