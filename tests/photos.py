"""Photograph-like test images: gradients, soft shapes, sharp strokes and grain at two scales.

Flat colours compress to nothing and would make any size look cheap; these compress about as badly as a
model's output (a 1024 x 1024 PNG of about 1.9 MB, its ~1024 px WebP about 110 KB, its ~320 px one about
16 KB), so what a page transfers and what a resize costs are what a real gallery sees.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter


def photo(seed: int, size: tuple[int, int] = (1024, 1024)) -> Image.Image:
    rnd = random.Random(seed)
    width, height = size
    bands = []
    for _ in range(3):
        linear = Image.linear_gradient("L").rotate(rnd.randrange(360)).resize(size)
        radial = Image.radial_gradient("L").resize(size)
        bands.append(Image.blend(linear, radial, rnd.random()))
    image = Image.merge("RGB", bands)
    draw = ImageDraw.Draw(image)
    scale = max(size) / 1024
    for _ in range(40):  # soft shapes: out-of-focus objects
        x, y = rnd.randrange(width), rnd.randrange(height)
        box = (x, y, x + rnd.randrange(30, 300) * scale, y + rnd.randrange(30, 300) * scale)
        draw.ellipse(box, fill=tuple(rnd.randrange(256) for _ in range(3)))
    image = image.filter(ImageFilter.GaussianBlur(4 * scale))
    draw = ImageDraw.Draw(image)
    for _ in range(300):  # sharp strokes: edges that survive a resize
        x, y = rnd.randrange(width), rnd.randrange(height)
        end = (x + rnd.randrange(-60, 60) * scale, y + rnd.randrange(-60, 60) * scale)
        draw.line((x, y, *end), fill=tuple(rnd.randrange(256) for _ in range(3)), width=rnd.randrange(1, 4))
    coarse = Image.merge(
        "RGB",
        [Image.effect_noise((width // 4, height // 4), 40).resize(size, Image.Resampling.BICUBIC) for _ in range(3)],
    )
    grain = Image.merge("RGB", [Image.effect_noise(size, 20) for _ in range(3)])
    return Image.blend(Image.blend(image, coarse, 0.25), grain, 0.2)


def photo_bytes(seed: int, size: tuple[int, int] = (1024, 1024), image_format: str = "PNG", **save) -> bytes:
    buffer = io.BytesIO()
    photo(seed, size).save(buffer, image_format, **save)
    return buffer.getvalue()


ORIENTATION = 0x0112


def sideways_jpeg(size=(1600, 1200)) -> bytes:
    """A JPEG whose EXIF says "rotate 90° clockwise to view": upright it is portrait."""
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    Image.new("RGB", size, (30, 120, 200)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()
