"""The registry of reference model photos (models.json).

The file is checked against a JSON schema (shape, id and URL formats, each model under its own gender) and
for duplicate ids, and every problem is named with where it is. A running process keeps the last registry
that loaded (`RegistryFile`): the file is re-read when its modification time, size or inode changes, and a
change that breaks it leaves the last good registry in use while `problem()` says what is wrong, so a bad
edit never stops generation mid-day. Start-up is strict instead (`RegistryFile.load`): web and consumer
refuse to start on a broken file.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from jsonschema import Draft202012Validator, ValidationError

from app.core.errors import AppError

GENDERS = ("male", "female")
ENTRY_FIELDS = ("id", "gender", "s3Url")
MODEL_ID = r"^[A-Za-z0-9_-]{1,64}$"  # what URLs (the id converter), media keys and the usage columns accept
HTTPS_URL = r"^https://[^\s/?#@]+/\S+$"  # a host and a path, no credentials, no spaces
log = logging.getLogger(__name__)


def _entry_schema(gender: str) -> dict:
    return {
        "type": "object",
        "required": list(ENTRY_FIELDS),
        "properties": {
            "id": {"type": "string", "pattern": MODEL_ID},
            "gender": {"const": gender},
            "s3Url": {"type": "string", "pattern": HTTPS_URL},
            "retired": {"type": "boolean"},  # gone from the bucket but used by a preset (`models sync`)
        },
    }


SCHEMA = {
    "type": "object",
    "required": list(GENDERS),
    "additionalProperties": False,
    "properties": {gender: {"type": "array", "items": _entry_schema(gender)} for gender in GENDERS},
}
VALIDATOR = Draft202012Validator(SCHEMA)
FIELD_RULES = {
    "id": "ids are 1 to 64 letters, digits, '-' or '_'",
    "s3Url": "it must be an https:// URL with a host and a path",
    "retired": "it must be true or false",
}


@dataclass(frozen=True)
class ReferenceModel:
    id: str
    gender: str
    s3_url: str
    retired: bool = False  # kept for the presets that used it; never selected again


class RegistryError(AppError, ValueError):
    """models.json is unreadable or invalid. `problems` names each one and where it is; the message
    starts with the file's name. A request that meets one gets a 503 with that message."""

    status = 503

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source, self.problems = source, problems
        message = f"{source}: {problems[0]}"
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more: `flask --app wsgi models check` lists them)"
        super().__init__(message)

    def refusal(self, path: Path, what: str) -> str:
        """Why `what` ("the web app", "the consumer") does not start: the file's full path and every problem."""
        lines = [f"Cannot start {what}: the models file {path} is broken:", *(f"  - {p}" for p in self.problems)]
        lines.append("Fix it and start again (`flask --app wsgi models check` checks it).")
        return "\n".join(lines)


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

    def selectable(self, gender: str) -> tuple[ReferenceModel, ...]:
        """The models of `gender` a job may pick: all but the retired ones."""
        return tuple(m for m in self.of_gender(gender) if not m.retired)

    @property
    def all(self) -> tuple[ReferenceModel, ...]:
        return self.male + self.female

    def __len__(self) -> int:
        return len(self.male) + len(self.female)


def parse_registry(data: Any, source: str = "models.json") -> Registry:
    """The registry in `data` (models.json's parsed JSON), or a RegistryError naming every problem."""
    problems = list(dict.fromkeys(describe(error, data) for error in VALIDATOR.iter_errors(data)))
    problems += duplicate_ids(data)
    if problems:
        raise RegistryError(source, problems)
    lists = {
        g: tuple(ReferenceModel(e["id"], g, e["s3Url"], e.get("retired", False)) for e in data[g]) for g in GENDERS
    }
    return Registry(male=lists["male"], female=lists["female"])


def describe(error: ValidationError, data: Any) -> str:
    """One schema error as a sentence that says where (`male[7] (id 'male_08')`) and what is wrong."""
    path = list(error.absolute_path)
    if not path:
        if error.validator == "additionalProperties":
            unknown = sorted(set(data) - set(GENDERS))
            return f"unexpected keys {unknown}; only 'male' and 'female' are allowed"
        if error.validator == "required":
            return f"'{next(g for g in GENDERS if g not in data)}' is missing: it must be a list of models"
        return "expected an object with 'male' and 'female' lists"
    gender = path[0]
    if len(path) == 1:
        return f"'{gender}' must be a list of models"
    entry = data[gender][path[1]]
    where = f"{gender}[{path[1]}]" + (f" (id {entry['id']!r})" if isinstance(entry, dict) and "id" in entry else "")
    if len(path) == 2:
        if error.validator == "required":
            return f"{where} has no " + " and no ".join(f for f in ENTRY_FIELDS if f not in entry)
        return f"{where} must be an object with id, gender and s3Url"
    name, value = str(path[2]), error.instance
    if name == "gender":
        return f"{where} has gender {value!r} but is listed under '{gender}'"
    return f"{where} has {name} {value!r}; {FIELD_RULES.get(name, error.message)}"


def duplicate_ids(data: Any) -> list[str]:
    """Every entry whose id an earlier entry already has (a schema cannot say this); entries without a
    usable id are the schema's to report."""
    seen: set[str] = set()
    problems = []
    for gender in GENDERS:
        entries = data.get(gender) if isinstance(data, dict) else None
        for position, entry in enumerate(entries if isinstance(entries, list) else []):
            model_id = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(model_id, str) and model_id in seen:
                problems.append(f"{gender}[{position}] (id {model_id!r}) is a duplicate id")
            if isinstance(model_id, str):
                seen.add(model_id)
    return problems


def _refuse_duplicate_keys(pairs: list) -> dict:
    repeated = [key for key, count in Counter(key for key, _ in pairs).items() if count > 1]
    if repeated:  # json.loads would silently keep the last one
        raise ValueError(f"the key {repeated[0]!r} appears twice in one object")
    return dict(pairs)


def load_registry_file(path: Path) -> Registry:
    """Read and check the file now (no cache): what `models check` and start-up use."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise RegistryError(path.name, [f"cannot read the models file ({reason})"]) from None
    try:
        data = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise RegistryError(path.name, [f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"]) from None
    except ValueError as exc:
        raise RegistryError(path.name, [f"not valid JSON: {exc}"]) from None
    return parse_registry(data, source=path.name)


class HasRegistry(Protocol):
    """What needs only the reference models asks of the app's services."""

    def registry(self) -> Registry: ...


class RegistryFile:
    """models.json as a running process sees it: the last registry that loaded, and what is wrong now."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.loaded_at: float | None = None  # when the registry in use was read (time.time())
        self._stamp: tuple[int, int, int] | None = None
        self._good: Registry | None = None
        self._problem: RegistryError | None = None
        self._lock = threading.Lock()

    def _stamp_now(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None  # read (and fail) every time until the file is back
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def refresh(self) -> None:
        """Re-read the file if it changed; a broken file keeps the last good registry in use."""
        stamp = self._stamp_now()
        if stamp is not None and stamp == self._stamp:
            return
        with self._lock:
            if stamp is not None and stamp == self._stamp:
                return
            try:
                registry = load_registry_file(self.path)
            except RegistryError as exc:
                if self._good is not None and str(exc) != str(self._problem):
                    log.warning("%s; still using the last good registry (%d models)", exc, len(self._good))
                self._problem = exc
            else:
                self._good, self._problem, self.loaded_at = registry, None, time.time()
            self._stamp = stamp

    def registry(self) -> Registry:
        """The registry in use: the file's, or the last good one while the file is broken."""
        self.refresh()
        if self._good is None:
            assert self._problem is not None
            raise self._problem
        return self._good

    @property
    def last_good(self) -> Registry | None:
        """The registry in use as last read (None if the file never loaded), without reading the file."""
        return self._good

    def problem(self) -> RegistryError | None:
        """What is wrong with the file now (None when it is fine)."""
        self.refresh()
        return self._problem

    def load(self) -> Registry:
        """Strict, for start-up: the file's registry, or the RegistryError that refuses the start."""
        self.refresh()
        if self._problem is not None:
            raise self._problem
        assert self._good is not None
        return self._good


_files: dict[str, RegistryFile] = {}
_files_lock = threading.Lock()


def registry_file(path: Path) -> RegistryFile:
    """One RegistryFile per path and process: every app and job of the process shares its last good registry."""
    key = str(path)
    with _files_lock:
        if key not in _files:
            _files[key] = RegistryFile(Path(path))
        return _files[key]
