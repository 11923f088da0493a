"""Our own copy of the registry's reference photos, with a small thumbnail for the gallery cards.

The admin pages load images from our origin only (CSP `img-src 'self'`), so `flask models cache` copies each
model's photo (models.json's s3Url) into storage through the safe downloader (https, public addresses, a
size cap, a verified PNG/JPEG/WebP within a pixel limit) and makes a ~320 px WebP thumbnail with the EXIF
orientation applied (by `storage.sizes`, which makes the examples' sizes too). A model counts as cached when
both its photo and its thumbnail exist: a rerun skips what is done, and an interrupted one redoes only the
models it had not finished (each file is written atomically, the thumbnail first).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from app.pool.registry import ReferenceModel
from app.providers.download.downloader import DownloadFailed, DownloadRefused, SafeDownloader
from app.providers.download.images import FORMATS
from app.storage.base import Storage, reference_key, reference_thumb_key
from app.storage.sizes import THUMB, SizingError, resized_webps

PHOTO_EXTENSIONS = tuple(extension for _name, extension, _mime in FORMATS.values())  # jpg, png, webp
THUMB_BOX = (THUMB.box, THUMB.box)  # the longest side; the photos are portraits, so about 256 x 320
DOWNLOAD_TRIES = 3
SAFE_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # usable in a storage key as it is

CACHED, SKIPPED, FAILED = "cached", "skipped", "failed"


@dataclass(frozen=True)
class CacheResult:
    """What became of one model's photo: cached now, skipped (already cached) or failed, and why."""

    model_id: str
    outcome: str
    detail: str = ""


class ThumbnailError(Exception):
    """The photo passed the download checks but Pillow could not make a thumbnail of it."""


# -- what the pages ask -----------------------------------------------------------------------------------
def photo_key(storage: Storage, model_id: str) -> str | None:
    """The storage key of the model's cached photo (whatever its format), or None."""
    if not SAFE_MODEL_ID.match(model_id):
        return None
    return next((key for key in (reference_key(model_id, e) for e in PHOTO_EXTENSIONS) if storage.exists(key)), None)


def thumbnail_url(storage: Storage, model_id: str) -> str | None:
    """Where a card loads the model's thumbnail from, or None while it is not cached (a placeholder then)."""
    if not SAFE_MODEL_ID.match(model_id):
        return None
    key = reference_thumb_key(model_id)
    return storage.url(key) if storage.exists(key) else None


def photo_url(storage: Storage, model_id: str) -> str | None:
    """Where the side-by-side view loads the full photo from, or None while it is not cached."""
    key = photo_key(storage, model_id)
    return storage.url(key) if key else None


def is_cached(storage: Storage, model_id: str) -> bool:
    return thumbnail_url(storage, model_id) is not None and photo_key(storage, model_id) is not None


# -- the cache ------------------------------------------------------------------------------------------
def cache_references(
    models: Iterable[ReferenceModel],
    storage: Storage,
    downloader: SafeDownloader,
    *,
    force: bool = False,
    workers: int = 4,
    sleep: Callable[[float], None] | None = None,
) -> Iterator[CacheResult]:
    """Copy every model's photo that is not cached yet (all of them with `force`), a few at a time;
    yield each model's result as it is known, the skipped ones first."""
    todo = []
    for model in models:
        if not force and is_cached(storage, model.id):
            yield CacheResult(model.id, SKIPPED, "already cached")
        else:
            todo.append(model)
    if not todo:
        return
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="references") as pool:
        futures = [pool.submit(cache_one, model, storage, downloader, sleep or time.sleep) for model in todo]
        for future in as_completed(futures):
            yield future.result()


def cache_one(
    model: ReferenceModel, storage: Storage, downloader: SafeDownloader, sleep: Callable[[float], None]
) -> CacheResult:
    """Download one photo (a transient failure is tried again), store its thumbnail, then the photo."""
    if not SAFE_MODEL_ID.match(model.id):
        return CacheResult(model.id, FAILED, "this model id cannot name a file (letters, digits, '.', '_', '-')")
    last_error = ""
    for attempt in range(DOWNLOAD_TRIES):
        if attempt:
            sleep(0.5 * 2 ** (attempt - 1))
        try:
            with downloader.download(model.s3_url) as photo:
                thumbnail = thumbnail_bytes(photo.path, downloader.max_pixels)
                storage.save_bytes(reference_thumb_key(model.id), thumbnail)
                for extension in PHOTO_EXTENSIONS:  # a copy in another format, from an older photo
                    if extension != photo.extension:
                        storage.delete(reference_key(model.id, extension))
                size = storage.save_stream(reference_key(model.id, photo.extension), photo.chunks())
                return CacheResult(model.id, CACHED, f"{photo.format} {photo.width}x{photo.height}, {size:,} bytes")
        except DownloadRefused as exc:
            return CacheResult(model.id, FAILED, f"refused: {exc}")
        except DownloadFailed as exc:
            last_error = str(exc)
        except ThumbnailError as exc:
            return CacheResult(model.id, FAILED, f"no thumbnail: {exc}")
        except OSError as exc:
            return CacheResult(model.id, FAILED, f"could not store it: {exc}")
    return CacheResult(model.id, FAILED, f"{last_error} (tried {DOWNLOAD_TRIES} times)")


def thumbnail_bytes(path: Path, max_pixels: int) -> bytes:
    """A WebP of at most THUMB_BOX, turned upright by its EXIF orientation. The downloader has already
    verified the file; the pixel limit is checked again here before anything is decoded."""
    try:
        [thumbnail] = resized_webps(path, (THUMB,), max_pixels)
    except SizingError as exc:
        raise ThumbnailError(str(exc)) from exc
    return thumbnail.data
