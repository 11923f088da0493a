"""An output that came inline, as a `data:` URI, instead of an https URL (Replicate answers those for some models,
e.g. in sync mode): decoded into a temporary file under the same rules as a download. Only base64 data of a
declared PNG, JPEG or WebP type is taken; the size cap is checked against the encoded length first and counted
again while decoding; the first bytes must look like an allowed image (then Pillow verifies the whole file)."""

from __future__ import annotations

import base64
import binascii
import os

from app.providers.download import DownloadRefused
from app.providers.download.images import check_signature

MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
MAX_HEADER = 256  # "data:image/png;base64," and a few parameters
CHUNK = 4 * 16 * 1024  # base64 characters decoded at a time (a multiple of 4)


def is_data_uri(url: object) -> bool:
    return isinstance(url, str) and url[:5].lower() == "data:"


def shown(uri: str) -> str:
    """The URI as a message shows it: its header and its length, never its data."""
    comma = uri.find(",", 0, MAX_HEADER)
    return f"{uri[: comma + 1] if comma > 0 else uri[:40]}… ({len(uri)} characters)"


def media_type(uri: str) -> tuple[str, int]:
    """(the declared media type, where the data starts); DownloadRefused unless base64 of an allowed image type."""
    comma = uri.find(",", 0, MAX_HEADER)
    if comma < 0:
        raise DownloadRefused(f"a data: URI without its comma in the first {MAX_HEADER} characters")
    media, *parameters = (part.strip().lower() for part in uri[5:comma].split(";"))
    media = media or "text/plain"
    if "base64" not in parameters:
        raise DownloadRefused(f"a data: URI of {media} that is not base64: not an image")
    if media not in MEDIA_TYPES:
        raise DownloadRefused(f"not an image: a data: URI of {media} (only PNG, JPEG and WebP are kept)")
    return media, comma + 1


def decode_into(uri: str, start: int, media: str, fd: int, max_bytes: int) -> tuple[int, bytes]:
    """Decode the data from `start` into `fd` under `max_bytes`; (size, first 512 bytes). `media`: the type the
    URI declares, named when the bytes are something else."""
    encoded = len(uri) - start
    if (encoded // 4) * 3 - 2 > max_bytes:  # at least this many bytes once decoded
        raise DownloadRefused(
            f"too large: a data: URI of about {encoded // 4 * 3} bytes is over the {max_bytes} byte limit"
        )
    size, head = 0, b""
    with os.fdopen(fd, "wb") as out:
        for at in range(start, len(uri), CHUNK):
            try:
                chunk = base64.b64decode(uri[at : at + CHUNK], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise DownloadRefused(f"a data: URI whose base64 is broken ({exc})") from None
            size += len(chunk)
            if size > max_bytes:
                raise DownloadRefused(f"too large: over the {max_bytes} byte limit, stopped decoding")
            if len(head) < 512:
                head += chunk[: 512 - len(head)]
                if len(head) == 512 or at + CHUNK >= len(uri):
                    check_signature(head, media)
            out.write(chunk)
    if size == 0:
        raise DownloadRefused("empty data: URI")
    return size, head
