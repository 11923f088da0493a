"""Choosing reference models for a preset, and recording which ones it has used.

Selection reserves the models it picks in the same transaction that reads what is
free, under a lock on the preset (PostgreSQL: SELECT … FOR UPDATE on the preset row;
SQLite: BEGIN IMMEDIATE), so two requests at the same moment can never get the same
model. The unique key on (preset_id, model_id) is the last line of defence.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from app.core.database import db, rowcount
from app.core.errors import GenerationError
from app.models import ItemState, Preset, PresetModelUsage, UsageState, utcnow
from app.pool.registry import GENDERS, ReferenceModel, Registry

CLEAR_USAGE_COMMAND = "flask --app wsgi usage clear {preset}"


class NoModelsLeft(Exception):
    """No model of the registry is free for this preset: each is used, or reserved by a job that has not ended."""

    def __init__(self, preset: Preset, holders: Holders | None = None) -> None:
        self.preset = preset
        holders = holders or Holders()
        clear = f"clear its usage to start over: {CLEAR_USAGE_COMMAND.format(preset=preset.id)}"
        if not holders.reserved:
            text = (
                f'Every reference model has already been used for preset "{preset.name}" '
                f"({holders.used_count} used, none reserved). {clear.capitalize()}"
            )
        else:
            text = (
                f'No reference model is free for preset "{preset.name}": {holders.used_count} used, '
                f"{holders.reserved_text()}. Wait for {holders.jobs_text()} to end (the models "
                f"{holders.pronoun()} fail{'s' if holders.pronoun() == 'it' else ''} come back), or {clear}"
            )
        super().__init__(text)


@dataclass
class Holders:
    """Who holds this preset's models: model id → when it was used, or → the job reserving it."""

    used: dict[str, datetime] = field(default_factory=dict)
    reserved: dict[str, str | None] = field(default_factory=dict)

    @property
    def used_count(self) -> int:
        return len(self.used)

    def by_job(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job_id in self.reserved.values():
            counts[job_id or "?"] = counts.get(job_id or "?", 0) + 1
        return counts

    def reserved_text(self) -> str:
        parts = [f"{n} by job {job_id}" for job_id, n in sorted(self.by_job().items())]
        return f"{len(self.reserved)} reserved by running jobs ({', '.join(parts)})"

    def jobs_text(self) -> str:
        jobs = sorted(self.by_job())
        return ("job " if len(jobs) == 1 else "jobs ") + ", ".join(jobs)

    def pronoun(self) -> str:
        return "it" if len(self.by_job()) == 1 else "they"

    def problem(self, model_id: str) -> str | None:
        if model_id in self.reserved:
            return f"reserved by running job {self.reserved[model_id]}"
        if model_id in self.used:
            return f"already used on {self.used[model_id]:%Y-%m-%d}"
        return None


def holders_of(preset_id: str) -> Holders:
    rows = db.session.execute(
        select(
            PresetModelUsage.model_id, PresetModelUsage.state, PresetModelUsage.job_id, PresetModelUsage.used_at
        ).where(PresetModelUsage.preset_id == preset_id)
    ).all()
    holders = Holders()
    for model_id, state, job_id, used_at in rows:
        if state == UsageState.RESERVED:
            holders.reserved[model_id] = job_id
        else:
            holders.used[model_id] = used_at
    return holders


@dataclass
class Selection:
    models: list[ReferenceModel]
    requested: dict[str, int]
    shortfall: dict[str, int] = field(default_factory=dict)
    holders: Holders | None = None

    def count(self, gender: str) -> int:
        return sum(1 for m in self.models if m.gender == gender)

    @property
    def warning(self) -> str | None:
        if not self.shortfall:
            return None
        parts = [f"only {self.count(g)} of {self.requested[g]} {g} models were left" for g in self.shortfall]
        text = "; ".join(parts).capitalize() + "."
        if self.holders and self.holders.reserved:
            held, it = self.holders, self.holders.pronoun()
            text += (
                f" {len(held.reserved)} more are reserved by running {held.jobs_text()}: the ones {it}"
                f" fail{'s' if it == 'it' else ''} become free when {it} end{'s' if it == 'it' else ''}."
            )
        return text


def lock_preset(preset_id: str) -> Preset | None:
    """Start a write transaction that serialises selections for this preset."""
    if db.session().in_transaction():
        db.session.commit()
    return db.session.execute(select(Preset).where(Preset.id == preset_id).with_for_update()).scalar_one_or_none()


def choose_models(registry: Registry, taken: set[str], total: int, rng: random.Random) -> Selection:
    """Half male, half female (the odd one female), at random among models not taken."""
    requested = {"male": total // 2, "female": total - total // 2}
    chosen: list[ReferenceModel] = []
    shortfall = {}
    for gender in GENDERS:
        free = [m for m in registry.selectable(gender) if m.id not in taken]
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
    holders = holders_of(preset_id)
    selection = choose_models(registry, set(holders.used) | set(holders.reserved), total, rng or random.Random())
    selection.holders = holders
    if not selection.models:
        raise NoModelsLeft(preset, holders)
    reserve(preset_id, selection.models, job_id)
    return selection


def reserve(preset_id: str, models: Iterable[ReferenceModel], job_id: str | None) -> None:
    now = utcnow()
    db.session.add_all(
        PresetModelUsage(preset_id=preset_id, model_id=m.id, state=UsageState.RESERVED, job_id=job_id, used_at=now)
        for m in models
    )


def reserve_chosen_models(preset_id: str, registry: Registry, model_ids: list[str], *, job_id: str) -> Selection:
    """Reserve exactly the models an admin ticked (no 10 + 10 rule), or refuse them all with a 400 that
    names every unknown, repeated, used or reserved id and why. Runs under the caller's preset lock."""
    if len(model_ids) > len(registry):
        raise GenerationError(f"modelIds names {len(model_ids)} models; the registry has {len(registry)}.")
    holders = holders_of(preset_id)
    problems: list[str] = []
    seen: set[str] = set()
    for model_id in model_ids:
        if model_id in seen:
            reason: str | None = "named more than once"
        elif registry.get(model_id) is None:
            reason = "not a reference model of models.json"
        elif registry.by_id[model_id].retired:
            reason = "retired: its photo is gone from the bucket"
        else:
            reason = holders.problem(model_id)
        seen.add(model_id)
        if reason:
            problems.append(f"{model_id!r}: {reason}")
    if problems:
        raise GenerationError(
            f"These models cannot be chosen ({len(problems)}): " + "; ".join(problems) + ". Nothing was reserved."
        )
    models = [m for m in (registry.get(i) for i in model_ids) if m is not None]
    reserve(preset_id, models, job_id)
    return Selection(models, {g: sum(1 for m in models if m.gender == g) for g in GENDERS})


def reserve_for_retry(preset_id: str, models: list[ReferenceModel], *, job_id: str) -> Selection:
    """A retry works on exactly its models whether or not they are free: the ones nobody holds are
    reserved for it, and a used one (it got an example) stays used and passes to the retry, so the worker
    sees it as the retry's own. A model another running job reserves stays that job's: the retry's
    worker reports those items failed rather than work on a model twice at once."""
    holders = holders_of(preset_id)
    reserve(preset_id, [m for m in models if m.id not in holders.used and m.id not in holders.reserved], job_id)
    used = [m.id for m in models if m.id in holders.used]
    if used:
        db.session.execute(
            update(PresetModelUsage)
            .where(PresetModelUsage.preset_id == preset_id, PresetModelUsage.model_id.in_(used))
            .values(job_id=job_id)
        )
    return Selection(list(models), {g: sum(1 for m in models if m.gender == g) for g in GENDERS})


def release_model(preset_id: str, model_id: str) -> bool:
    """Make one used model free again (its examples stay). False when it was not used; a model reserved by
    a job that has not ended is refused by the caller before this."""
    result = db.session.execute(
        delete(PresetModelUsage).where(
            PresetModelUsage.preset_id == preset_id,
            PresetModelUsage.model_id == model_id,
            PresetModelUsage.state == UsageState.USED,
        )
    )
    return bool(rowcount(result))


def record_model_usage(preset_id: str, model_ids: Iterable[str], job_id: str | None = None) -> None:
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


def release_models(preset_id: str, job_id: str, model_ids: Iterable[str]) -> None:
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


def settle_usage(preset_id: str, job_id: str, items: Iterable[Any]) -> bool:
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
