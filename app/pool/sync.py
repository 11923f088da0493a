"""models.json rebuilt from the bucket's photos (`flask models sync`), so nobody edits it by hand.

The photos live under `<prefix>male/` and `<prefix>female/`. A photo already in the file keeps its model's id
(matched by URL, or by key when the URL base changed); a new photo gets the next free `<gender>_NN` id (ids
are never reused: old gallery examples still name them). A model whose photo is gone stays, marked
`"retired": true`, while any preset has used it (selection skips it); otherwise it is removed.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from sqlalchemy import select

from app.core.database import db
from app.models import PresetModelUsage
from app.pool.registry import GENDERS, ReferenceModel, Registry, parse_registry

PHOTO_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class BucketPhoto:
    gender: str
    key: str
    url: str


@dataclass
class SyncPlan:
    """The new models.json and how it differs from the current one."""

    data: dict
    added: list[ReferenceModel] = field(default_factory=list)
    removed: list[ReferenceModel] = field(default_factory=list)
    changed: list[tuple[ReferenceModel, ReferenceModel]] = field(default_factory=list)  # (before, after)
    retired: list[ReferenceModel] = field(default_factory=list)
    unchanged: int = 0

    @property
    def differs(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.retired)


def list_photos(client: Any, bucket: str, prefix: str, url_base: str) -> list[BucketPhoto]:
    """Every photo under `<prefix>male/` and `<prefix>female/` (paginated listings), sorted by key."""
    photos = []
    paginator = client.get_paginator("list_objects_v2")
    for gender in GENDERS:
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}{gender}/"):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.lower().endswith(PHOTO_EXTENSIONS):
                    photos.append(BucketPhoto(gender, key, f"{url_base.rstrip('/')}/{quote(key)}"))
    return sorted(photos, key=lambda photo: (GENDERS.index(photo.gender), photo.key))


def used_model_ids() -> set[str]:
    """Every model any preset has used or reserved (`preset_model_usage`)."""
    return set(db.session.scalars(select(PresetModelUsage.model_id).distinct()))


def entry(model: ReferenceModel) -> dict:
    """A model as models.json writes it."""
    return {"id": model.id, "gender": model.gender, "s3Url": model.s3_url} | (
        {"retired": True} if model.retired else {}
    )


class IdMaker:
    """The next `<gender>_NN` after the highest of the current ids, never one already taken."""

    def __init__(self, ids: set[str]) -> None:
        self.taken = set(ids)

    def new(self, gender: str) -> str:
        numbers = [int(m.group(1)) for i in self.taken if (m := re.fullmatch(rf"{gender}_(\d+)", i))]
        number = max(numbers, default=0) + 1
        while f"{gender}_{number:02d}" in self.taken:
            number += 1
        self.taken.add(f"{gender}_{number:02d}")
        return f"{gender}_{number:02d}"


def match(photo: BucketPhoto, models: list[ReferenceModel]) -> ReferenceModel | None:
    """The current model of this photo: the same URL, else a URL ending with the same key."""
    same_url = next((m for m in models if m.s3_url == photo.url), None)
    return same_url or next((m for m in models if unquote(urlsplit(m.s3_url).path).endswith(f"/{photo.key}")), None)


def plan_sync(current: Registry, photos: list[BucketPhoto], used: set[str]) -> SyncPlan:
    """What models.json becomes for these photos; `used`: the ids presets have used (kept, retired)."""
    unclaimed = list(current.all)
    ids = IdMaker({m.id for m in current.all})
    after: dict[str, ReferenceModel] = {}  # current id -> the model it becomes
    plan = SyncPlan(data={})
    new: list[ReferenceModel] = []
    for photo in photos:
        found = match(photo, unclaimed)
        if found is None:
            new.append(ReferenceModel(ids.new(photo.gender), photo.gender, photo.url))
            continue
        unclaimed.remove(found)
        after[found.id] = ReferenceModel(found.id, photo.gender, photo.url)
        if after[found.id] != found:
            plan.changed.append((found, after[found.id]))
    for model in unclaimed:
        if model.id not in used:
            plan.removed.append(model)
            continue
        after[model.id] = ReferenceModel(model.id, model.gender, model.s3_url, retired=True)
        if not model.retired:
            plan.retired.append(after[model.id])
    plan.added = new
    plan.unchanged = len(current) - len(plan.changed) - len(plan.removed) - len(plan.retired)
    models = [after[m.id] for m in current.all if m.id in after] + new
    plan.data = {gender: [entry(m) for m in models if m.gender == gender] for gender in GENDERS}
    parse_registry(plan.data, source="the synced registry")  # never write what the loader would refuse
    return plan


def write_registry(path: Path, data: dict) -> None:
    """Replace models.json atomically (a temporary file renamed over it), keeping its permissions."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, indent=2) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
