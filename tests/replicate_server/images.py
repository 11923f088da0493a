"""The output files: a small real image per prediction output, padded to any size and still a valid image."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import threading
import zlib
from collections.abc import Iterable, Iterator

from PIL import Image, ImageDraw

CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}

_NOISE_LOCK = threading.Lock()
_NOISE: bytes | None = None
PIECE = 64 * 1024


def _noise() -> bytes:
    """1 MiB of incompressible bytes used to pad outputs up to ``output_bytes``."""
    global _NOISE
    with _NOISE_LOCK:
        if _NOISE is None:
            _NOISE = random.Random(0x5EED).randbytes(1 << 20)
        return _NOISE


def _noise_pieces(length: int, crc: int | None = None) -> Iterator[tuple[bytes, int | None]]:
    noise = _noise()
    pos = 0
    while length > 0:
        n = min(PIECE, length, len(noise) - pos)
        piece = noise[pos : pos + n]
        if crc is not None:
            crc = zlib.crc32(piece, crc)
        yield piece, crc
        length -= n
        pos = (pos + n) % len(noise)


def render_image(pid: str, index: int, model: str, inp: dict, fmt: str) -> bytes:
    """A small real image, different per prediction/output: colour from the id, text of the request."""
    digest = hashlib.sha256(f"{pid}:{index}".encode()).digest()
    colour = (digest[0], digest[1], digest[2])
    ink = (0, 0, 0) if sum(colour) > 384 else (255, 255, 255)
    img = Image.new("RGB", (192, 192), colour)
    draw = ImageDraw.Draw(img)
    prompt = str(inp.get("prompt", ""))
    lines = [model, f"{pid} #{index}"]
    lines += [prompt[i : i + 28] for i in range(0, min(len(prompt), 28 * 4), 28)]
    for key in ("image_input", "input_image", "image_prompt", "image"):
        if key in inp:
            lines.append(f"{key}: {str(inp[key])[-20:]}")
    for row, line in enumerate(lines):
        draw.text((6, 6 + row * 14), line, fill=ink)
    # A few id-dependent stripes so the PNG is not trivially compressible (~2-5 KB).
    for k in range(8):
        y = 120 + k * 8
        draw.rectangle(
            (digest[k + 3] % 96, y, 96 + digest[k + 11] % 96, y + 5),
            fill=(digest[k + 3], digest[k + 11], digest[k + 19]),
        )
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, "PNG")
    elif fmt in ("jpg", "jpeg"):
        img.save(buf, "JPEG", quality=60)
    elif fmt == "webp":
        # VP8X (extended) layout so an extra padding chunk is allowed by the spec.
        img.save(buf, "WEBP", quality=70, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00")
    else:  # pragma: no cover - guarded by validation
        raise ValueError(fmt)
    return buf.getvalue()


def padded_body(base: bytes, fmt: str, target: int) -> tuple[int, Iterable[bytes]]:
    """Return (total length, byte pieces) of ``base`` padded to about ``target`` bytes.

    The result stays a valid image: PNG gets a private ancillary chunk (``pgPd``) before
    IDAT, JPEG gets COM segments after APP0, WebP gets an unknown RIFF chunk.
    """
    extra = target - len(base)
    if fmt == "png" and extra > 12:
        return _padded_png(base, extra - 12)
    if fmt in ("jpg", "jpeg") and extra > 4:
        return _padded_jpeg(base, extra)
    if fmt == "webp" and extra > 8:
        return _padded_webp(base, (extra - 8) & ~1)
    return len(base), [base]


def _padded_png(base: bytes, length: int) -> tuple[int, Iterator[bytes]]:
    head, tail = base[:33], base[33:]  # signature + IHDR, then the rest

    def gen() -> Iterator[bytes]:
        yield head + struct.pack(">I", length) + b"pgPd"
        running = zlib.crc32(b"pgPd")
        for piece, checksum in _noise_pieces(length, running):
            running = checksum
            yield piece
        yield struct.pack(">I", running & 0xFFFFFFFF) + tail

    return len(base) + 12 + length, gen()


def _padded_jpeg(base: bytes, extra: int) -> tuple[int, Iterator[bytes]]:
    pos = 2
    if base[2:4] == b"\xff\xe0":
        pos = 4 + struct.unpack(">H", base[4:6])[0]
    sizes = []
    left = extra
    while left > 4:
        d = min(65533, left - 4)
        sizes.append(d)
        left -= d + 4
    total = len(base) + sum(d + 4 for d in sizes)

    def gen() -> Iterator[bytes]:
        yield base[:pos]
        for d in sizes:
            yield b"\xff\xfe" + struct.pack(">H", d + 2)
            for piece, _ in _noise_pieces(d):
                yield piece
        yield base[pos:]

    return total, gen()


def _padded_webp(base: bytes, length: int) -> tuple[int, Iterator[bytes]]:
    total = len(base) + 8 + length

    def gen() -> Iterator[bytes]:
        yield base[:4] + struct.pack("<I", total - 8) + base[8:]
        yield b"PGPD" + struct.pack("<I", length)
        for piece, _ in _noise_pieces(length):
            yield piece

    return total, gen()
