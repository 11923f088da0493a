"""The registry of reference model photos (models.json).

Loaded once and kept in memory; reloaded only when the file's modification time or
size changes, so every request and job sees the current file without re-reading it.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

GENDERS = ("male", "female")


@dataclass(frozen=True)
class ReferenceModel:
    id: str
    gender: str
    s3_url: str


class RegistryError(ValueError):
    """models.json is unreadable or an entry is invalid; the message names the entry."""


@dataclass(frozen=True)
class Registry:
    male: tuple[ReferenceModel, ...]
    female: tuple[ReferenceModel, ...]
    by_id: dict[str, ReferenceModel] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {m.id: m for m in self.male + self.female})

    def of_gender(self, gender: str) -> tuple[ReferenceModel, ...]:
        return self.male if gender == "male" else self.female

    def get(self, model_id: str) -> ReferenceModel | None:
        return self.by_id.get(model_id)

    @property
    def all(self) -> tuple[ReferenceModel, ...]:
        return self.male + self.female

    def __len__(self) -> int:
        return len(self.male) + len(self.female)


def parse_registry(data, source: str = "models.json") -> Registry:
    if not isinstance(data, dict):
        raise RegistryError(f"{source}: expected an object with 'male' and 'female' lists")
    seen: set[str] = set()
    lists = {}
    for gender in GENDERS:
        entries = data.get(gender)
        if not isinstance(entries, list):
            raise RegistryError(f"{source}: '{gender}' must be a list of models")
        lists[gender] = tuple(
            parse_entry(entry, gender, f"{source}: {gender}[{position}]", seen)
            for position, entry in enumerate(entries)
        )
    unknown = set(data) - set(GENDERS)
    if unknown:
        raise RegistryError(f"{source}: unexpected keys {sorted(unknown)}; only 'male' and 'female' are allowed")
    return Registry(male=lists["male"], female=lists["female"])


def parse_entry(entry, gender: str, where: str, seen: set[str]) -> ReferenceModel:
    """One model of the list `gender`; `seen` collects ids to refuse duplicates."""
    if not isinstance(entry, dict):
        raise RegistryError(f"{where} must be an object with id, gender and s3Url")
    model_id, entry_gender, url = entry.get("id"), entry.get("gender"), entry.get("s3Url")
    if not isinstance(model_id, str) or not model_id.strip():
        raise RegistryError(f"{where} has no id")
    where = f"{where} (id {model_id!r})"
    if model_id in seen:
        raise RegistryError(f"{where} is a duplicate id")
    if entry_gender != gender:
        raise RegistryError(f"{where} has gender {entry_gender!r} but is listed under '{gender}'")
    if not isinstance(url, str) or not url.startswith("https://") or len(url) <= len("https://"):
        raise RegistryError(f"{where} has s3Url {url!r}; it must be an https:// URL")
    seen.add(model_id)
    return ReferenceModel(model_id, gender, url)


def load_registry_file(path: Path) -> Registry:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read the models file ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return parse_registry(data, source=Path(path).name)


_cache: dict[str, tuple[tuple[int, int], Registry]] = {}
_lock = threading.Lock()


def get_registry(path: Path) -> Registry:
    """The registry at `path`, from memory unless the file changed since it was read."""
    key = str(path)
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read the models file ({exc.strerror})") from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(key)
    if cached and cached[0] == stamp:
        return cached[1]
    with _lock:
        registry = load_registry_file(path)
        _cache[key] = (stamp, registry)
        return registry
