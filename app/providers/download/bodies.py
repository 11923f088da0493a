"""A download's response body, streamed into a temporary file under a byte cap and a deadline.

Compressed bodies (bombs) and a declared size over the cap are refused before reading a
byte; the first 512 bytes must look like an allowed image (see images.py) before the rest
is read.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import httpx

from app.providers.download import DownloadFailed, DownloadRefused
from app.providers.download.images import check_signature


def check_response_headers(response: httpx.Response, max_bytes: int) -> None:
    """Refuse before reading a byte: compressed bodies (bombs) or a declared size over the cap."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise DownloadRefused(f"compressed response ({encoding}) not accepted")
    declared = response.headers.get("content-length")
    if declared is not None and declared.strip().isdecimal() and int(declared) > max_bytes:
        raise DownloadRefused(f"too large: Content-Length {int(declared)} bytes is over the {max_bytes} byte limit")


def make_temp_file(temp_dir: Path | None) -> tuple[int, Path]:
    """A fresh temporary file for the body, so it never has to sit in memory whole."""
    if temp_dir is not None:
        temp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=temp_dir, prefix=".download-", suffix=".part")
    return fd, Path(name)


def stream_body(
    response: httpx.Response,
    fd: int,
    server_type: str | None,
    *,
    max_bytes: int,
    deadline: float,
    total_timeout: float,
) -> tuple[int, bytes]:
    """Copy the body into `fd` under the size and time caps; return (size, first bytes).

    The first 512 bytes are checked as soon as they arrive, so a non-image stops the
    download early instead of after the whole body.
    """
    size = 0
    head = b""
    sniffed = False
    with os.fdopen(fd, "wb") as out:
        for chunk in response.iter_raw():
            size += len(chunk)
            _check_progress(size, max_bytes, deadline, total_timeout)
            out.write(chunk)
            if not sniffed:
                head += chunk[: 512 - len(head)]
                if len(head) >= 512:
                    check_signature(head, server_type)
                    sniffed = True
    if size == 0:
        raise DownloadRefused("empty response body")
    if not sniffed:
        check_signature(head, server_type)
    return size, head


def _check_progress(size: int, max_bytes: int, deadline: float, total_timeout: float) -> None:
    """Stop a body that grows past the byte cap or outlasts the overall deadline."""
    if size > max_bytes:
        raise DownloadRefused(f"too large: over the {max_bytes} byte limit, stopped reading")
    if time.monotonic() > deadline:
        raise DownloadFailed(f"took longer than {total_timeout:g} s")


def remove_quietly(path: Path) -> None:
    """Delete a temporary file that may already be gone, so cleanup never masks the real error."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
