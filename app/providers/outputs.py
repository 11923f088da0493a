"""Copying a prediction's output into our storage, through the safe downloader."""

from __future__ import annotations

from collections.abc import Callable

from ..storage.base import Storage, example_key
from .base import ItemFailed, ItemSpec
from .downloads import DownloadFailed, DownloadRefused, SafeDownloader
from .replicate_http import backoff

DOWNLOAD_RETRIES = 5


def store_output(
    downloader: SafeDownloader,
    storage: Storage,
    url: str,
    spec: ItemSpec,
    sleep: Callable[[float], None],
    predict_time: float | None = None,
) -> str:
    """Copy the output into storage through the safe downloader: a refused output (not https, a private
    address, too large, not an image) fails this model at once; a transient failure is retried. The
    prediction succeeded (and was billed) whatever happens here: a failure says so, with `predict_time`."""
    last_error = None
    for attempt in range(DOWNLOAD_RETRIES):
        try:
            with downloader.download(url) as image:
                key = example_key(spec.preset_id, spec.job_id, spec.model_id, spec.index, image.extension)
                storage.save_stream(key, image.chunks())
                return key
        except DownloadRefused as exc:
            raise ItemFailed(f"the output was refused: {exc}", predict_time, succeeded=True) from None
        except DownloadFailed as exc:
            last_error = str(exc)
        sleep(backoff(attempt, base=0.25, cap=5.0))
    reason = f"could not download the output after {DOWNLOAD_RETRIES} tries ({last_error})"
    raise ItemFailed(reason, predict_time, succeeded=True)
