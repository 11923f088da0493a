"""Offline mode: the same pipeline, with a labelled placeholder instead of a Replicate call.

Used on a first run without a token. Every image says in large letters that it is an
offline placeholder, so it can never be mistaken for (or billed as) a real output.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFont

from app.providers.base import Ending, ItemResult, ItemSpec, Stopped
from app.providers.catalog import get_provider
from app.providers.outputs import sizes_or_none
from app.storage.base import Storage

SIZE = (512, 640)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without scalable default font
        return ImageFont.load_default()


def render_placeholder(spec: ItemSpec) -> bytes:
    digest = hashlib.sha256(f"{spec.model_id}:{spec.index}:{spec.preset_id}".encode()).digest()
    base = (60 + digest[0] % 120, 60 + digest[1] % 120, 60 + digest[2] % 120)
    image = Image.new("RGB", SIZE, base)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, SIZE[0], 90], fill=(20, 20, 20))
    draw.text((SIZE[0] // 2, 45), "OFFLINE PLACEHOLDER", fill=(255, 210, 0), font=_font(34), anchor="mm")
    draw.ellipse([156, 150, 356, 350], fill=tuple(min(255, c + 60) for c in base))
    draw.rectangle([106, 370, 406, 560], fill=tuple(min(255, c + 60) for c in base))
    lines = [
        f"model {spec.model_id} ({spec.gender})",
        f"example {spec.index + 1}",
        spec.preset_name[:36],
        "not generated - no Replicate call",
    ]
    for n, line in enumerate(lines):
        draw.text((SIZE[0] // 2, 515 + n * 28), line, fill=(255, 255, 255), font=_font(22), anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


class OfflineGenerator:
    offline = True

    def __init__(self, storage: Storage, delay: float = 0.0) -> None:
        self.storage = storage
        self.delay = delay

    def run(self, spec: ItemSpec, on_created: Callable[[str], None], stop: threading.Event) -> ItemResult:
        if self.delay and stop.wait(self.delay):
            raise Stopped()
        key = spec.image_key("png")
        placeholder = render_placeholder(spec)
        self.storage.save_bytes(key, placeholder)
        provider = spec.provider_spec or get_provider(spec.provider)
        return ItemResult(
            image_key=key,
            sizes=sizes_or_none(self.storage, key, io.BytesIO(placeholder), spec),
            prediction_id=None,
            offline=True,
            model_version=f"offline placeholder ({provider.model} was not called)",
            settings=provider.sent_settings(spec.settings),  # what a real run would send
        )

    def cancel(self, prediction_id: str) -> Ending | None:
        return None  # placeholders have no prediction to stop
