"""A preset as the JSON API shows it: one, or a whole list in a fixed number of queries.

The list shows, besides each preset's own columns, its model usage, its example count and its spend.
Read one preset at a time these would be three queries per preset; here they are three grouped
queries for the whole list, however many presets there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from app.core.database import db
from app.gallery.query import GalleryQuery
from app.models import GalleryExample, Preset, PresetModelUsage, SpendEntry, UsageState, iso
from app.spend import ledger
from app.web.context import services
from app.web.gallery_json import gallery_page_json


@dataclass(frozen=True)
class PresetFigures:
    """Usage by state, example counts and spend of a set of presets, keyed by preset id."""

    usage: dict[str, dict[str, int]]
    examples: dict[str, int]
    spent: dict[str, Decimal]

    @classmethod
    def of(cls, ids: Sequence[str]) -> PresetFigures:
        if not ids:
            return cls({}, {}, {})
        usage: dict[str, dict[str, int]] = {}
        rows = db.session.execute(
            select(PresetModelUsage.preset_id, PresetModelUsage.state, func.count())
            .where(PresetModelUsage.preset_id.in_(ids))
            .group_by(PresetModelUsage.preset_id, PresetModelUsage.state)
        )
        for preset_id, state, count in rows:
            usage.setdefault(preset_id, {})[state] = count
        examples = db.session.execute(
            select(GalleryExample.preset_id, func.count())
            .where(GalleryExample.preset_id.in_(ids))
            .group_by(GalleryExample.preset_id)
        )
        return cls(
            usage, {preset_id: count for preset_id, count in examples}, ledger.totals_by(SpendEntry.preset_id, ids)
        )

    def usage_of(self, preset_id: str) -> dict[str, int]:
        counts = self.usage.get(preset_id, {})
        return {"used": counts.get(UsageState.USED, 0), "reserved": counts.get(UsageState.RESERVED, 0)}


def preset_json(preset: Preset, with_gallery: bool = True, figures: PresetFigures | None = None) -> dict:
    """The preset with its gallery, or (in a list) its example count. `figures`: the list's, read once."""
    figures = figures or PresetFigures.of([preset.id])
    data: dict[str, Any] = {
        "id": preset.id,
        "name": preset.name,
        "prompt": preset.prompt,
        "provider": preset.provider,
        "settings": preset.settings or {},
        "lastGenerated": iso(preset.last_generated),
        "createdAt": iso(preset.created_at),
        "updatedAt": iso(preset.updated_at),
        "createdBy": preset.created_by,
        "updatedBy": preset.updated_by,
        "usage": {**figures.usage_of(preset.id), "total": len(services().registry())},
        "spendUsd": ledger.as_text(figures.spent.get(preset.id, ledger.ZERO)),
    }
    if with_gallery:
        data["gallery"] = gallery_page_json(preset.id, GalleryQuery())  # the first page, with the next's address
    else:
        data["examplesCount"] = figures.examples.get(preset.id, 0)
    return data


def presets_json(presets: Sequence[Preset]) -> list[dict]:
    """A list of presets without their galleries, in a fixed number of queries."""
    figures = PresetFigures.of([p.id for p in presets])
    return [preset_json(p, with_gallery=False, figures=figures) for p in presets]
