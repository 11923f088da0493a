"""Adopting a variant: the preset takes its provider, settings and prompt (by the preset's own rules, audited), and
exactly the picked outputs become unreviewed examples of its gallery, their models recorded as used. Nothing else
changes; the comparison is kept, marked adopted."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from app.accounts.audit import record
from app.comparisons.reading import CellView, Grid, read_grid
from app.core.database import db
from app.core.errors import AppError, PresetError
from app.models import Comparison, ComparisonCell, ComparisonVariant, CurationState, GalleryExample, new_id, utcnow
from app.pool.release import holding_job
from app.pool.selection import lock_preset, record_model_usage
from app.presets.rules import apply_preset_fields
from app.storage.base import Storage, example_key, size_key

log = logging.getLogger(__name__)


class AdoptError(AppError):
    """An adoption that cannot be done as asked; nothing was changed."""


@dataclass(frozen=True)
class Adoption:
    variant_id: str
    cell_ids: list[str] = field(default_factory=list)


def parse_adoption(body: Any) -> Adoption:
    """`{"variantId": id, "cellIds": [ids of that variant's cells to keep]}` (cellIds may be empty)."""
    if not isinstance(body, dict) or set(body) - {"variantId", "cellIds"} or "variantId" not in body:
        raise AdoptError('Adopting takes {"variantId": id, "cellIds": [cell ids to keep in the gallery]}.')
    variant_id, cell_ids = body["variantId"], body.get("cellIds", [])
    if not isinstance(variant_id, str) or not 0 < len(variant_id) <= 32:
        raise AdoptError("variantId must be the id of one of this comparison's variants.")
    if not isinstance(cell_ids, list) or not all(isinstance(c, str) and 0 < len(c) <= 32 for c in cell_ids):
        raise AdoptError("cellIds must be a list of cell ids (it may be empty).")
    if len(set(cell_ids)) != len(cell_ids):
        raise AdoptError("cellIds names a cell more than once.")
    return Adoption(variant_id, list(cell_ids))


@dataclass(frozen=True)
class Adopted:
    preset_id: str
    example_ids: list[str]
    message: str


def adopt(storage: Storage, comparison_id: str, wanted: Adoption, actor: str | None) -> Adopted:
    """Adopt under the preset's lock; an AdoptError (404, 400, 409) or a storage failure changes nothing."""
    comparison = db.session.get(Comparison, comparison_id)
    if comparison is None:
        raise AdoptError(f"No comparison with id {comparison_id!r}.", 404)
    preset = lock_preset(comparison.preset_id)
    assert preset is not None  # a comparison goes with its preset (ON DELETE CASCADE)
    grid = read_grid(comparison)
    variant, kept = checked(grid, wanted)
    refuse_held(preset.id, kept)
    try:
        apply_preset_fields(
            preset, {"provider": variant.provider, "settings": variant.settings, "prompt": variant.prompt}, False
        )
    except PresetError as exc:
        db.session.rollback()
        raise AdoptError(
            f"The preset cannot take variant {variant.label}: {exc.message} Nothing was changed.", 409
        ) from None
    written: list[str] = []
    try:
        examples = [copy_to_gallery(storage, preset.id, variant, view.cell, written) for view in kept]
        db.session.add_all(examples)
        record_model_usage(preset.id, [e.model_id for e in examples], job_id=variant.job_id)
        preset.updated_by = actor
        comparison.adopted_variant_id, comparison.adopted_at, comparison.adopted_by = variant.id, utcnow(), actor
        record(
            actor,
            "comparison.adopt",
            f"preset {preset.name}",
            f"variant {variant.label} of comparison {comparison.id}: {variant.provider}, settings {variant.settings}, "
            f"its prompt; kept {len(examples)} outputs ({', '.join(e.model_id for e in examples) or 'none'})",
            preset_id=preset.id,
            subjects=[comparison.id, *(e.id for e in examples)],
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        for key in written:
            storage.delete(key)
        raise
    ids = [e.id for e in examples]
    return Adopted(
        preset.id,
        ids,
        f"Adopted variant {variant.label}: the preset now runs it; "
        + ("no output" if not ids else "1 output" if len(ids) == 1 else f"{len(ids)} outputs")
        + " added to the gallery.",
    )


def refuse_held(preset_id: str, kept: list[CellView]) -> None:
    """A 409 naming the first model a job of the preset that has not ended holds (call it under the lock)."""
    for view in kept:
        holder = holding_job(preset_id, view.cell.model_id)
        if holder:
            raise AdoptError(
                f"Model {view.cell.model_id} is held by running job {holder} of this preset; adopt once that job "
                "has ended, or leave its output out. Nothing was changed.",
                409,
            )


def checked(grid: Grid, wanted: Adoption) -> tuple[ComparisonVariant, list[CellView]]:
    if grid.comparison.adopted_variant_id:
        adopted = grid.variant(grid.comparison.adopted_variant_id)
        raise AdoptError(f"This comparison's variant {adopted.label if adopted else '?'} was adopted already.", 409)
    if grid.is_live:
        raise AdoptError("This comparison is still running; adopt once it has finished (or cancel it).", 409)
    variant = grid.variant(wanted.variant_id)
    if variant is None:
        raise AdoptError(f"No variant {wanted.variant_id!r} in this comparison.", 404)
    cells = {c.cell.id: c for c in grid.cells}
    kept = []
    for cell_id in wanted.cell_ids:
        view = cells.get(cell_id)
        if view is None or view.cell.variant_id != variant.id:
            raise AdoptError(f"Cell {cell_id!r} is not one of variant {variant.label}'s cells.")
        if not view.has_image:
            raise AdoptError(f"Cell {cell_id!r} ({view.cell.model_id}) has no output to keep ({view.state}).")
        kept.append(view)
    return variant, kept


def copy_to_gallery(
    storage: Storage, preset_id: str, variant: ComparisonVariant, cell: ComparisonCell, written: list[str]
) -> GalleryExample:
    """The cell's output (and its sizes) copied to the gallery's folder, as an unreviewed example: the comparison
    keeps its own copy, so deleting the example later leaves the comparison whole."""
    assert cell.image_path is not None and variant.job_id is not None
    extension = cell.image_path.rsplit(".", 1)[-1]
    key = example_key(preset_id, variant.job_id, cell.model_id, 0, extension)
    copies = {cell.image_path: key}
    for name, path in (("thumb", cell.thumb_path), ("medium", cell.medium_path)):
        if path:
            copies[path] = size_key(key, name)
    for source, target in copies.items():
        storage.save_bytes(target, storage.read_bytes(source))
        written.append(target)
    return GalleryExample(
        id=new_id(),
        preset_id=preset_id,
        job_id=variant.job_id,
        model_id=cell.model_id,
        gender=cell.gender,
        example_index=0,
        provider=variant.provider,
        prompt=variant.prompt,
        image_path=key,
        prediction_id=cell.prediction_id,
        offline=cell.offline,
        created_at=utcnow(),
        model_version=cell.model_version,
        settings=cell.sent_settings,
        state=CurationState.UNREVIEWED,
        thumb_path=copies.get(cell.thumb_path or ""),
        thumb_width=cell.thumb_width,
        thumb_height=cell.thumb_height,
        medium_path=copies.get(cell.medium_path or ""),
        medium_width=cell.medium_width,
        medium_height=cell.medium_height,
    )
