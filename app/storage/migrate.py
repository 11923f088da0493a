"""Copying the local media folder into the bucket (`flask media migrate --to s3`), resumable.

Every file under MEDIA_DIR keeps its key. A key the bucket already holds with the same size is skipped, so a
run that stopped (or failed on some files) is simply started again. Each copy is an ordinary upload: an
object appears only once it is complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from app.storage.base import checked_key
from app.storage.s3 import S3Storage

COPIED, SKIPPED, FAILED = "copied", "skipped", "failed"
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Copy:
    """What became of one file: copied now, skipped (already in the bucket) or failed, and why."""

    key: str
    outcome: str
    size: int
    detail: str = ""


def local_files(root: Path) -> list[tuple[str, Path]]:
    """(key, path) of every file under `root`, but hidden ones (an unfinished write's `.part-…`), by key."""
    files = []
    for path in Path(root).rglob("*"):
        relative = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            files.append((relative.as_posix(), path))
    return sorted(files)


def copy_one(storage: S3Storage, key: str, path: Path, in_bucket: int | None) -> Copy:
    try:
        size = path.stat().st_size
        if in_bucket == size:
            return Copy(key, SKIPPED, size)
        checked_key(key)
        with open(path, "rb") as handle:
            storage.save_stream(key, iter(lambda: handle.read(CHUNK), b""))
    except (OSError, ValueError) as exc:  # a StorageError is an OSError
        return Copy(key, FAILED, 0, str(exc))
    return Copy(key, COPIED, size)


def migrate(root: Path, storage: S3Storage, workers: int = 8) -> tuple[int, Iterator[Copy]]:
    """How many files there are, and each one's `Copy` as it ends. The bucket is listed first (one paginated
    listing per top-level folder); a listing that fails raises StorageError before anything is copied."""
    files = local_files(root)
    in_bucket: dict[str, int] = {}
    for folder in sorted({key.split("/", 1)[0] for key, _path in files if "/" in key}):
        in_bucket |= storage.sizes_under(f"{folder}/")

    def copies() -> Iterator[Copy]:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(copy_one, storage, key, path, in_bucket.get(key)) for key, path in files]
            for future in as_completed(futures):
                yield future.result()

    return len(files), copies()
