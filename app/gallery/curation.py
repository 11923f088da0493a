"""Curating a gallery: each example's verdict and its place within its group.

A verdict (`CurationState`) is set on one example or on a selection: exactly the ids given, all of them
this preset's, or nothing changes. Rejecting can release the examples' models in the same transaction,
refused like any release while a running job holds one. Moving places an example within its group; the
group's first examples are numbered 0, 1, 2… as the admin arranged them, the rest follow newest first
(`models.CURATED_ORDER`). A new verdict puts an example after the placed ones of its new group.
Every change is written to the audit trail with who made it, under the preset's lock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from app.accounts.audit import record
from app.core.database import db
from app.core.errors import CurationError
from app.models import CURATED_ORDER, CurationState, GalleryExample, Preset
from app.pool.release import refuse_if_held
from app.pool.selection import lock_preset, release_model

MAX_SELECTION = 500
EXAMPLE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
VERBS = {
    CurationState.APPROVED: "approve",
    CurationState.FEATURED: "feature",
    CurationState.REJECTED: "reject",
    CurationState.UNREVIEWED: "reset",
}
DIRECTIONS = ("earlier", "later")
LISTED_IN_AUDIT = 20


@dataclass(frozen=True)
class StateChange:
    state: CurationState
    ids: tuple[str, ...]
    release_models: bool = False


@dataclass
class Curated:
    """What a state change did: the examples (in the order asked), and the models it released."""

    examples: list[GalleryExample]
    state: CurationState
    released: list[str]
    model_ids: list[str]

    @property
    def message(self) -> str:
        count = len(self.examples)
        text = f"{count} examples {self.state}." if count != 1 else f"Example of {self.model_ids[0]} {self.state}."
        if self.released:
            text += f" Released {', '.join(self.released)}: the next jobs can select {plural(self.released)} again."
        return text


def plural(items: list) -> str:
    return "it" if len(items) == 1 else "them"


def parse_state(value: Any) -> CurationState:
    if not isinstance(value, str) or value not in tuple(CurationState):
        shown = repr(value)[:40] if value is not None else "nothing"
        raise CurationError(f"state must be one of {', '.join(CurationState)}, got {shown}.")
    return CurationState(value)


def parse_state_change(body: Any, example_id: str | None = None) -> StateChange:
    """{"state", "releaseModel"} for one example (`example_id`), {"ids", "state", "releaseModel"} for a
    selection; a 400 CurationError says what is wrong."""
    allowed = ("ids", "state", "releaseModel") if example_id is None else ("state", "releaseModel")
    if not isinstance(body, dict):
        raise CurationError(f"The request body must be a JSON object with {', '.join(allowed)}.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise CurationError(f"Unknown field(s): {', '.join(unknown)}. Allowed: {', '.join(allowed)}.")
    state = parse_state(body.get("state"))
    release = body.get("releaseModel", False)
    if not isinstance(release, bool):
        raise CurationError("releaseModel must be true or false.")
    if release and state != CurationState.REJECTED:
        raise CurationError("releaseModel goes with state 'rejected' only: a kept example keeps its model.")
    ids = (example_id,) if example_id is not None else selection_ids(body.get("ids"))
    return StateChange(state, ids, release)


def selection_ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise CurationError("ids must be a non-empty list of example ids.")
    if len(value) > MAX_SELECTION:
        raise CurationError(f"ids can hold at most {MAX_SELECTION} examples at a time, got {len(value)}.")
    malformed = [repr(i)[:70] for i in value if not isinstance(i, str) or not EXAMPLE_ID.fullmatch(i)]
    if malformed:
        raise CurationError(f"These ids are not example ids: {', '.join(malformed)}. Nothing was changed.")
    repeated = sorted({i for i in value if value.count(i) > 1})
    if repeated:
        raise CurationError(f"These ids are given more than once: {', '.join(repeated)}. Nothing was changed.")
    return tuple(value)


def locked_preset(preset_id: str) -> Preset:
    preset = lock_preset(preset_id)
    if preset is None:
        raise CurationError(f"No preset with id {preset_id!r}.", 404)
    return preset


def set_state(preset_id: str, change: StateChange, actor: str | None, *, one: bool = False) -> Curated:
    """Give every example of `change.ids` the verdict and commit, releasing their models when asked.
    An id that is not this preset's refuses the whole change (400 naming each, or 404 for `one`)."""
    preset = locked_preset(preset_id)
    found = {
        e.id: e
        for e in db.session.scalars(
            select(GalleryExample).where(GalleryExample.preset_id == preset.id, GalleryExample.id.in_(change.ids))
        )
    }
    missing = [i for i in change.ids if i not in found]
    if missing and one:
        raise CurationError(f'No example {missing[0]} in preset "{preset.name}": it may have been deleted.', 404)
    if missing:
        raise CurationError(
            f'Not examples of preset "{preset.name}" (unknown, deleted or of another preset): '
            f"{', '.join(missing)}. Nothing was changed."
        )
    examples = [found[i] for i in change.ids]
    model_ids = sorted({e.model_id for e in examples})
    if change.release_models:
        for model_id in model_ids:
            refuse_if_held(preset, model_id)  # 409 before anything changes
    for example in examples:
        if example.state != change.state:
            example.state, example.position = change.state, None
    released = [m for m in model_ids if change.release_models and release_model(preset.id, m)]
    record(
        actor,
        f"example.{VERBS[change.state]}",
        f"preset {preset.name}",
        audit_detail(examples, released),
        preset_id=preset.id,
        subjects=[e.id for e in examples],
    )
    db.session.commit()
    return Curated(examples, change.state, released, model_ids)


def audit_detail(examples: list[GalleryExample], released: list[str]) -> str:
    listed = ", ".join(f"{e.id} ({e.model_id})" for e in examples[:LISTED_IN_AUDIT])
    more = f" and {len(examples) - LISTED_IN_AUDIT} more" if len(examples) > LISTED_IN_AUDIT else ""
    return f"{len(examples)} examples: {listed}{more}" + (f"; released {', '.join(released)}" if released else "")


# -- order within a group -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Move:
    """Where to: just before or after another example of the same group, or one place earlier / later."""

    before: str | None = None
    after: str | None = None
    direction: str | None = None


def parse_move(body: Any) -> Move:
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in ("before", "after", "direction"):
        raise CurationError(
            'Say where to move the example with one field: {"before": id}, {"after": id} '
            'or {"direction": "earlier" | "later"}.'
        )
    key, value = next(iter(body.items()))
    if key == "direction" and value not in DIRECTIONS:
        raise CurationError(f"direction must be earlier or later, got {repr(value)[:40]}.")
    if key != "direction" and (not isinstance(value, str) or not EXAMPLE_ID.fullmatch(value)):
        raise CurationError(f"{key} must be the id of an example, got {repr(value)[:70]}.")
    return Move(**{key: value})


@dataclass
class Moved:
    example: GalleryExample
    place: int  # 0-based within its group
    group_size: int

    @property
    def message(self) -> str:
        return (
            f"Example of {self.example.model_id} moved to place {self.place + 1} of {self.group_size} "
            f"{self.example.state} examples."
        )


def move_example(preset_id: str, example_id: str, move: Move, actor: str | None) -> Moved:
    """Place the example as asked within its group and commit."""
    preset = locked_preset(preset_id)
    example = db.session.get(GalleryExample, example_id)
    if example is None or example.preset_id != preset.id:
        raise CurationError(f'No example {example_id} in preset "{preset.name}": it may have been deleted.', 404)
    group = db.session.execute(
        select(GalleryExample.id, GalleryExample.position)
        .where(GalleryExample.preset_id == preset.id, GalleryExample.state == example.state)
        .order_by(*CURATED_ORDER)
    ).all()
    order = [row.id for row in group]
    old = order.index(example.id)
    order.pop(old)
    new = target_place(preset, example, order, old, move)
    order.insert(new, example.id)
    renumber(preset.id, order, {row.id: row.position for row in group}, max(old, new) + 1)
    detail = f"{example.id} ({example.model_id}) to place {new + 1}"
    record(actor, "example.move", f"preset {preset.name}", detail, preset_id=preset.id, subjects=[example.id])
    db.session.commit()
    return Moved(example, new, len(order))


def target_place(preset: Preset, example: GalleryExample, rest: list[str], old: int, move: Move) -> int:
    """The example's new index among `rest` (its group without it), or a CurationError saying why not."""
    if move.direction == "earlier":
        if old == 0:
            raise CurationError(f"This is already the first {example.state} example.", 409)
        return old - 1
    if move.direction == "later":
        if old == len(rest):
            raise CurationError(f"This is already the last {example.state} example.", 409)
        return old + 1
    other_id = move.before or move.after or ""
    if other_id == example.id:
        raise CurationError("An example cannot be moved next to itself: name another example.")
    if other_id not in rest:
        other = db.session.get(GalleryExample, other_id)
        if other is None or other.preset_id != preset.id:
            raise CurationError(f'No example {other_id} in preset "{preset.name}".')
        raise CurationError(
            f"Example {other_id} is {other.state} and this one is {example.state}: an example moves within its "
            "own group. Change its state to move it to another group."
        )
    return rest.index(other_id) + (1 if move.after else 0)


def renumber(preset_id: str, order: list[str], positions: dict[str, int | None], placed: int) -> None:
    """Number the first `placed` examples 0, 1, 2…; push any later placed one that would now tie or come
    before them, so the stored order is exactly `order`."""
    changes = [{"id": i, "position": n} for n, i in enumerate(order[:placed]) if positions[i] != n]
    last = placed - 1
    for example_id in order[placed:]:
        position = positions[example_id]
        if position is None or position > last:
            break
        last += 1
        changes.append({"id": example_id, "position": last})
    if changes:
        db.session.execute(update(GalleryExample), changes)  # by primary key: one executemany
