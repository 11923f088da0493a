"""Copying a prediction's output into our storage, through the safe downloader, with its smaller sizes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from app.providers.base import ItemFailed, ItemSpec
from app.providers.download.downloader import DownloadFailed, DownloadRefused, SafeDownloader
from app.providers.replicate.transport import backoff
from app.storage.base import Storage
from app.storage.sizes import DEFAULT_MAX_PIXELS, ImageSizes, SizingError, store_sizes

DOWNLOAD_RETRIES = 5

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredOutput:
    """The original's key, and its sizes (None when they could not be made: the backfill makes them later)."""

    key: str
    sizes: ImageSizes | None


def store_output(
    downloader: SafeDownloader,
    storage: Storage,
    url: str,
    spec: ItemSpec,
    sleep: Callable[[float], None],
    predict_time: float | None = None,
) -> StoredOutput:
    """Copy the output into storage through the safe downloader: a refused output (not https, a private
    address, too large, not an image) fails this model at once; a transient failure is retried. The
    prediction succeeded (and was billed) whatever happens here: a failure says so, with `predict_time`.
    Once the original is stored its thumbnail and medium size are made from the same temporary file."""
    last_error = None
    for attempt in range(DOWNLOAD_RETRIES):
        try:
            with downloader.download(url) as image:
                key = spec.image_key(image.extension)
                storage.save_stream(key, image.chunks())
                return StoredOutput(key, sizes_or_none(storage, key, image.path, spec, downloader.max_pixels))
        except DownloadRefused as exc:
            raise ItemFailed(f"the output was refused: {exc}", predict_time, succeeded=True) from None
        except DownloadFailed as exc:
            last_error = str(exc)
        sleep(backoff(attempt, base=0.25, cap=5.0))
    reason = f"could not download the output after {DOWNLOAD_RETRIES} tries ({last_error})"
    raise ItemFailed(reason, predict_time, succeeded=True)


def sizes_or_none(
    storage: Storage, key: str, source: Path | BinaryIO, spec: ItemSpec, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ImageSizes | None:
    """The stored example's thumbnail and medium size, or None when they could not be made: the example is
    kept all the same (its original is stored and shown until `flask media thumbnails` makes them)."""
    try:
        return store_sizes(storage, key, source, max_pixels)
    except (SizingError, OSError) as exc:
        log.warning(
            "job=%s model=%s example %s stored without its sizes (%s); `flask --app wsgi media thumbnails` makes "
            "them later",
            spec.job_id,
            spec.model_id,
            spec.index,
            exc,
        )
        return None
