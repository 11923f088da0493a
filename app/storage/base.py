"""What every storage offers the pipeline and the web side, and how keys are named.

Keys are relative paths such as ``examples/<preset>/<job>/<model>-<n>.png``, with the example's smaller sizes
next to it (``…/<model>-<n>-thumb.webp``, ``…/<model>-<n>-medium.webp``); a storage maps them to bytes somewhere
(the local folder, or an S3 bucket) and to a URL a page can load.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]*$")


class StorageError(OSError):
    """The storage could not do it (a bucket unreachable, access denied): an OSError, like a full disk."""


def checked_key(key: str) -> str:
    """`key` if it is a safe relative path (no `..`, no leading `/`), else ValueError."""
    if not SAFE_KEY.match(key) or ".." in key.split("/"):
        raise ValueError(f"unsafe media key {key!r}")
    return key


class Storage(Protocol):
    def save_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """Write `key` atomically from `chunks`; return the number of bytes written."""
        ...

    def save_bytes(self, key: str, data: bytes) -> int: ...

    def read_bytes(self, key: str) -> bytes:
        """The whole object (an original image, for the sizes backfill); FileNotFoundError when it is missing."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def delete_tree(self, prefix: str) -> None: ...

    def url(self, key: str) -> str:
        """Where a page loads `key` from."""
        ...

    def short_url(self, key: str) -> str:
        """Where someone else (the gallery feed's consumer) loads `key` from, for an hour at most when the URL
        itself is the credential (presigned); `url` where the storage has no such URLs."""
        ...

    @property
    def url_origin(self) -> str | None:
        """The origin `url` points at when it is not our own (the CSP's `img-src` allows it), else None."""
        ...


def example_key(preset_id: str, job_id: str, model_id: str, index: int, extension: str) -> str:
    return f"examples/{preset_id}/{job_id}/{model_id}-{index}.{extension}"


def size_key(image_key: str, size: str) -> str:
    """One of an example's smaller sizes ("thumb", "medium"), a WebP next to its original:
    ``examples/<preset>/<job>/<model>-<n>.png`` → ``examples/<preset>/<job>/<model>-<n>-thumb.webp``."""
    folder, _, name = image_key.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{folder}/{stem}-{size}.webp" if folder else f"{stem}-{size}.webp"


def preset_prefix(preset_id: str) -> str:
    return f"examples/{preset_id}"


def reference_key(model_id: str, extension: str) -> str:
    """Our copy of a registry model's photo, in the format it came in."""
    return f"references/{model_id}.{extension}"


def reference_thumb_key(model_id: str) -> str:
    """The small WebP the gallery cards show beside each example."""
    return f"references/{model_id}-thumb.webp"
