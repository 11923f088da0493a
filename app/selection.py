"""Choosing reference models for a preset, and recording which ones it has used.

Selection reserves the models it picks in the same transaction that reads what is
free, under a lock on the preset (PostgreSQL: SELECT … FOR UPDATE on the preset row;
SQLite: BEGIN IMMEDIATE), so two requests at the same moment can never get the same
model. The unique key on (preset_id, model_id) is the last line of defence.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update

from .database import db, rowcount
from .models import ItemState, Preset, PresetModelUsage, UsageState, utcnow
from .registry import GENDERS, ReferenceModel, Registry

CLEAR_USAGE_COMMAND = "flask --app wsgi usage clear {preset}"


class NoModelsLeft(Exception):
    """Every model of the registry already has a usage row for this preset."""

    def __init__(self, preset: Preset):
        self.preset = preset
        super().__init__(
            f'Every reference model has already been used for preset "{preset.name}". '
            f"Clear its usage to start over: {CLEAR_USAGE_COMMAND.format(preset=preset.id)}"
        )


@dataclass
class Selection:
    models: list[ReferenceModel]
    requested: dict[str, int]
    shortfall: dict[str, int] = field(default_factory=dict)

    def count(self, gender: str) -> int:
        return sum(1 for m in self.models if m.gender == gender)

    @property
    def warning(self) -> str | None:
        if not self.shortfall:
            return None
        parts = [f"only {self.count(g)} of {self.requested[g]} {g} models were left" for g in self.shortfall]
        return "; ".join(parts).capitalize() + "."


def lock_preset(preset_id: str) -> Preset | None:
    """Start a write transaction that serialises selections for this preset."""
    if db.session().in_transaction():
        db.session.commit()
    return db.session.execute(select(Preset).where(Preset.id == preset_id).with_for_update()).scalar_one_or_none()


def taken_model_ids(preset_id: str) -> set[str]:
    return set(db.session.scalars(select(PresetModelUsage.model_id).where(PresetModelUsage.preset_id == preset_id)))


def choose_models(registry: Registry, taken: set[str], total: int, rng: random.Random) -> Selection:
    """Half male, half female (the odd one female), at random among models not taken."""
    requested = {"male": total // 2, "female": total - total // 2}
    chosen: list[ReferenceModel] = []
    shortfall = {}
    for gender in GENDERS:
        free = [m for m in registry.of_gender(gender) if m.id not in taken]
        want = requested[gender]
        if len(free) < want:
            shortfall[gender] = want - len(free)
        chosen.extend(rng.sample(free, min(want, len(free))))
    return Selection(chosen, requested, shortfall)


def select_models_for_preset(
    preset_id: str, registry: Registry, total: int = 20, *, job_id: str | None = None, rng: random.Random | None = None
) -> Selection:
    """Pick and reserve models inside the caller's locked transaction (see `lock_preset`).

    The caller commits; nothing is committed here, so a later failure in the same
    request rolls the reservation back with everything else.
    """
    preset = db.session.get(Preset, preset_id)
    assert preset is not None  # the caller holds the preset's lock
    selection = choose_models(registry, taken_model_ids(preset_id), total, rng or random.Random())
    if not selection.models:
        raise NoModelsLeft(preset)
    now = utcnow()
    db.session.add_all(
        PresetModelUsage(preset_id=preset_id, model_id=m.id, state=UsageState.RESERVED, job_id=job_id, used_at=now)
        for m in selection.models
    )
    return selection


def reserve_given_models(preset_id: str, models: list[ReferenceModel], *, job_id: str) -> Selection:
    """Reserve exactly these models (a retry of failed ones), skipping any taken since."""
    preset = db.session.get(Preset, preset_id)
    assert preset is not None  # the caller holds the preset's lock
    taken = taken_model_ids(preset_id)
    free = [m for m in models if m.id not in taken]
    requested = {g: sum(1 for m in models if m.gender == g) for g in GENDERS}
    shortfall = {g: n - sum(1 for m in free if m.gender == g) for g, n in requested.items()}
    selection = Selection(free, requested, {g: n for g, n in shortfall.items() if n})
    if not free:
        raise NoModelsLeft(preset)
    db.session.add_all(
        PresetModelUsage(preset_id=preset_id, model_id=m.id, state=UsageState.RESERVED, job_id=job_id) for m in free
    )
    return selection


def record_model_usage(preset_id: str, model_ids, job_id: str | None = None) -> None:
    """Mark models as used for a preset; calling it again with the same models changes nothing."""
    model_ids = set(model_ids)
    if not model_ids:
        return
    existing = set(
        db.session.scalars(
            select(PresetModelUsage.model_id).where(
                PresetModelUsage.preset_id == preset_id, PresetModelUsage.model_id.in_(model_ids)
            )
        )
    )
    if existing:
        db.session.execute(
            update(PresetModelUsage)
            .where(PresetModelUsage.preset_id == preset_id, PresetModelUsage.model_id.in_(existing))
            .values(state=UsageState.USED, **({"job_id": job_id} if job_id else {}))
        )
    db.session.add_all(
        PresetModelUsage(preset_id=preset_id, model_id=m, state=UsageState.USED, job_id=job_id)
        for m in model_ids - existing
    )


def release_models(preset_id: str, job_id: str, model_ids) -> None:
    """Give back models a job reserved but never got an example for."""
    model_ids = set(model_ids)
    if not model_ids:
        return
    db.session.execute(
        delete(PresetModelUsage).where(
            PresetModelUsage.preset_id == preset_id,
            PresetModelUsage.job_id == job_id,
            PresetModelUsage.state == UsageState.RESERVED,
            PresetModelUsage.model_id.in_(model_ids),
        )
    )


def settle_usage(preset_id: str, job_id: str, items) -> bool:
    """At a job's end a model keeps a `used` row exactly when it got an example; the others are released.

    Returns whether any model got an example."""
    with_example = {i.model_id for i in items if i.state == ItemState.SUCCEEDED}
    record_model_usage(preset_id, with_example, job_id=job_id)
    release_models(preset_id, job_id, {i.model_id for i in items} - with_example)
    return bool(with_example)


def clear_usage(preset_id: str) -> int:
    """Forget every model this preset used (examples stay). Returns how many rows went."""
    result = db.session.execute(delete(PresetModelUsage).where(PresetModelUsage.preset_id == preset_id))
    return rowcount(result) or 0


def usage_counts(preset_id: str) -> dict[str, int]:
    rows = db.session.execute(
        select(PresetModelUsage.state, db.func.count())
        .where(PresetModelUsage.preset_id == preset_id)
        .group_by(PresetModelUsage.state)
    ).all()
    counts: dict[str, int] = {state: count for state, count in rows}
    return {"used": counts.get(UsageState.USED, 0), "reserved": counts.get(UsageState.RESERVED, 0)}
