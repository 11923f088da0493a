"""A labelled placeholder for a reference photo that is not cached (offline, or before `flask models cache`):
a silhouette with the model's id and gender, marked "PLACEHOLDER" so it is never taken for the real person."""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

SIZE = (256, 320)  # the cached thumbnails' portrait box
BACKGROUND = {"male": (52, 74, 110), "female": (110, 56, 92)}


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without scalable default font
        return ImageFont.load_default()


@lru_cache(maxsize=256)
def placeholder_png(model_id: str, gender: str) -> bytes:
    """The placeholder as PNG bytes (drawn once per model and kept: 72 of a few kB each)."""
    width, height = SIZE
    background = BACKGROUND.get(gender, (70, 70, 80))
    figure = tuple(min(255, c + 70) for c in background)
    image = Image.new("RGB", SIZE, background)
    draw = ImageDraw.Draw(image)
    # every word at the top: a card lays its "reference" badge over the bottom of the image
    draw.ellipse([width // 2 - 48, 112, width // 2 + 48, 208], fill=figure)  # the head
    draw.ellipse([width // 2 - 100, 218, width // 2 + 100, 420], fill=figure)  # the shoulders
    draw.rectangle([0, 0, width, 96], fill=(20, 20, 20))
    draw.text((width // 2, 20), "PLACEHOLDER", fill=(255, 210, 0), font=_font(24), anchor="mm")
    draw.text((width // 2, 52), model_id[:24], fill=(255, 255, 255), font=_font(20), anchor="mm")
    caption = f"{gender} · photo not cached"
    draw.text((width // 2, 80), caption, fill=(220, 220, 220), font=_font(15), anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
