"""Smaller copies of a stored image, so pages never load full-size outputs to show a card.

Each example gets a ~320 px thumbnail (the grids) and a ~1024 px medium size (the side-by-side view) as WebP
next to its original, which stays downloadable; the reference photos get the thumbnail only. Every image is
turned upright by its EXIF orientation, refused before decoding when it has more pixels than the limit
(decompression bombs), decoded at a reduced scale when it is a JPEG (`draft`), and made smaller in steps
(`thumbnail`'s `reducing_gap` uses `reduce()`): a few tens of milliseconds and a few MB each. They run on
the process's two image threads (`image_threads`), whatever calls them (consumer item threads, the backfill,
the reference cache): the memory of a resize is bounded by the pixel limit, the process's by these two.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps

from app.storage.base import Storage, size_key
from app.storage.image_threads import MAX_PARALLEL_DECODES, on_image_thread

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP")  # what the downloader lets into storage
DEFAULT_MAX_PIXELS = 32 * 1024 * 1024  # the downloader's default limit, for sources that did not pass it
MAX_PARALLEL_RESIZES = MAX_PARALLEL_DECODES  # the image threads: the downloader's checks take turns with them


@dataclass(frozen=True)
class SizeSpec:
    """One size: its name in the key (`<model>-<n>-<name>.webp`), the longest side and the WebP settings."""

    name: str
    box: int
    quality: int
    method: int  # libwebp's effort, 0-6: for the medium size 1 takes 73 ms where 3 takes 128 and 6 about 250,
    # for files about 7 % larger than 3's (a 1024 x 1024 photograph: 113 KB against 106 KB); only the side-by-side
    # view and screens of 2 device pixels per CSS pixel load it, while every stored output is sized


THUMB = SizeSpec("thumb", 320, quality=80, method=4)
MEDIUM = SizeSpec("medium", 1024, quality=80, method=1)


class SizingError(Exception):
    """The image could not be made smaller: not an allowed image, broken, or over the pixel limit."""


@dataclass(frozen=True)
class Resized:
    """One size's WebP bytes and its pixel size."""

    spec: SizeSpec
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class ImageSizes:
    """Where an example's sizes are stored and the pixel size of each: what its gallery row records."""

    thumb_key: str
    thumb_width: int
    thumb_height: int
    medium_key: str
    medium_width: int
    medium_height: int


def resized_webps(
    source: Path | BinaryIO, specs: Sequence[SizeSpec], max_pixels: int = DEFAULT_MAX_PIXELS
) -> list[Resized]:
    """The image at `source` (a path or a binary file) as one WebP per spec, largest first, made on one of the
    process's image threads (waiting for a free one). Raises SizingError, never a Pillow error."""
    return on_image_thread(_resize_checked, source, sorted(specs, key=lambda s: -s.box), max_pixels)


def _resize_checked(source: Path | BinaryIO, specs: Sequence[SizeSpec], max_pixels: int) -> list[Resized]:
    try:
        return _resize(source, specs, max_pixels)
    except SizingError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SizingError(f"decompression bomb: {exc}") from exc
    except Exception as exc:  # Pillow raises many types for broken files
        raise SizingError(f"{type(exc).__name__}: {exc}") from exc


def _resize(source: Path | BinaryIO, specs: Sequence[SizeSpec], max_pixels: int) -> list[Resized]:
    """Decode once, then make each size from the one before (the thumbnail from the medium size), in place:
    at most one decoded copy of the image is held at a time."""
    with Image.open(source, formats=ALLOWED_FORMATS) as image:
        if image.width * image.height > max_pixels:
            raise SizingError(f"{image.width}x{image.height} pixels is over the {max_pixels} pixel limit")
        largest = specs[0].box
        image.draft("RGB", (largest, largest))  # JPEG: decode at the smallest scale still at least this big
        ImageOps.exif_transpose(image, in_place=True)
        mode = "RGBA" if image.has_transparency_data else "RGB"
        current = image if image.mode == mode else image.convert(mode)
        made = []
        for spec in specs:
            current.thumbnail((spec.box, spec.box), Image.Resampling.LANCZOS, reducing_gap=3.0)
            out = io.BytesIO()
            current.save(out, "WEBP", quality=spec.quality, method=spec.method)
            made.append(Resized(spec, out.getvalue(), current.width, current.height))
        return made


def store_sizes(
    storage: Storage, image_key: str, source: Path | BinaryIO, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ImageSizes:
    """Make the thumbnail and the medium size of the image stored at `image_key` (read from `source`) and store
    them next to it (each write atomic). Raises SizingError, or OSError when storage refuses a write."""
    medium, thumb = resized_webps(source, (MEDIUM, THUMB), max_pixels)
    thumb_key, medium_key = size_key(image_key, THUMB.name), size_key(image_key, MEDIUM.name)
    storage.save_bytes(medium_key, medium.data)
    storage.save_bytes(thumb_key, thumb.data)
    return ImageSizes(thumb_key, thumb.width, thumb.height, medium_key, medium.width, medium.height)


def delete_sizes(storage: Storage, image_key: str) -> None:
    """Remove an example's sizes (with its original, by the caller)."""
    for spec in (THUMB, MEDIUM):
        storage.delete(size_key(image_key, spec.name))
