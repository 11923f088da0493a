"""Is a downloaded body an allowed image? Byte signatures first, then Pillow.

Only PNG, JPEG and WebP are accepted; the detected format decides the file extension.
Anything else is described (an error page, JSON, another image format...) so the refusal
says what came back.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from app.providers.download import DownloadError, DownloadRefused

# Pillow format name -> (our format name, file extension, MIME type)
FORMATS = {
    "PNG": ("png", "png", "image/png"),
    "JPEG": ("jpeg", "jpg", "image/jpeg"),
    "WEBP": ("webp", "webp", "image/webp"),
}


def check_signature(head: bytes, server_type: str | None) -> None:
    """Stop reading early when the first bytes are not an allowed image type."""
    if not has_image_signature(head):
        raise DownloadRefused(describe(head, server_type))


def inspect_image(path: Path, head: bytes, server_type: str | None, max_pixels: int) -> tuple[str, int, int]:
    """Open, verify and decode the file with Pillow; return (format, width, height).

    verify() checks the structure (PNG chunk CRCs...); a full decode catches what it
    misses (truncated JPEG/WebP data). JPEG decodes at 1/8 scale; the size of a decode
    is bounded (`max_pixels`), and the caller bounds how many run at once.
    """
    allowed = tuple(FORMATS)
    image_format = None
    try:
        with open(path, "rb") as handle, Image.open(handle, formats=allowed) as image:
            image_format = image.format
            width, height = image.size
            if width * height > max_pixels:
                raise DownloadRefused(f"image too large: {width}x{height} pixels is over the {max_pixels} pixel limit")
            image.verify()
        with open(path, "rb") as handle, Image.open(handle, formats=allowed) as image:
            if image.format == "JPEG":
                image.draft(None, (1, 1))
            image.load()
    except DownloadError:
        raise
    except Image.UnidentifiedImageError as exc:
        raise DownloadRefused(describe(head, server_type)) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning arrives as an exception only when warnings are errors (tests);
        # otherwise Pillow just warns and our own max_pixels check refuses.
        raise DownloadRefused(f"decompression bomb: {exc}") from exc
    except Exception as exc:  # Pillow raises many types for broken files
        shown = image_format or "image"
        raise DownloadRefused(f"corrupt or truncated {shown}: {type(exc).__name__}: {exc}") from exc
    if image_format not in FORMATS:
        raise DownloadRefused(f"image format {image_format} is not allowed")
    return image_format, width, height


def has_image_signature(head: bytes) -> bool:
    return (
        head.startswith(b"\x89PNG\r\n\x1a\n")
        or head.startswith(b"\xff\xd8\xff")
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
    )


def describe(head: bytes, server_type: str | None) -> str:
    """A human-readable reason for bytes that are not an allowed image."""
    claimed = f" (server said {server_type})" if server_type else ""
    if not head:
        return "not an image: empty body"
    what = _other_image_kind(head) or _markup_kind(head) or _plain_kind(head)
    return f"not an image: looks like {what}{claimed}"


_OTHER_IMAGE_SIGNATURES = (
    ((b"GIF87a", b"GIF89a"), "a GIF image, which is not an allowed format"),
    ((b"BM",), "a BMP image, which is not an allowed format"),
    ((b"II*\x00", b"MM\x00*"), "a TIFF image, which is not an allowed format"),
)
"""(leading bytes, description) of image formats we recognise but do not accept."""


def _other_image_kind(head: bytes) -> str | None:
    """Name a real image in a format we refuse, so the message says it is not an error page."""
    for prefixes, what in _OTHER_IMAGE_SIGNATURES:
        if head.startswith(prefixes):
            return what
    if head[4:12] in (b"ftypavif", b"ftypheic", b"ftypmif1", b"ftypheix"):
        return "an AVIF/HEIF image, which is not an allowed format"
    return None


def _markup_kind(head: bytes) -> str | None:
    """Spot HTML, XML/SVG or JSON (error pages, API errors), ignoring a BOM and leading space."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text:
        return "text/html"
    if text.startswith(b"<?xml") or text.startswith(b"<svg") or b"<svg" in text:
        return "XML/SVG"
    if text.startswith((b"{", b"[")):
        return "JSON"
    return None


def _plain_kind(head: bytes) -> str:
    """Last-resort guesses once the image and markup signatures did not match."""
    if head.startswith(b"%PDF"):
        return "a PDF"
    if all(32 <= byte < 127 or byte in (9, 10, 13) for byte in head):
        return "text"
    return "unrecognised binary data"
