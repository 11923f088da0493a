"""A preset whose gallery has five examples from one job, three of whose reference photos are cached: for the
browser tests of the gallery and the README's screenshot."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image, ImageDraw, ImageFont

from app.services import services_of
from tests import factories

MODELS = ["female_03", "male_07", "female_11", "male_02", "female_20"]  # newest first
CACHED = {"female_03", "male_07", "female_11"}  # the other two show the "not cached" placeholder


def picture(label: str, colour: tuple[int, int, int], size=(400, 500), fmt="PNG") -> bytes:
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((size[0] * 0.3, size[1] * 0.18, size[0] * 0.7, size[1] * 0.5), fill=(240, 210, 190))
    draw.rectangle((size[0] * 0.2, size[1] * 0.55, size[0] * 0.8, size[1]), fill=(60, 70, 90))
    draw.text((12, 12), label, fill=(255, 255, 255), font=ImageFont.load_default(size=max(14, size[0] // 16)))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def seed_gallery(live) -> tuple[str, list[str]]:
    """A preset with five examples made by one job, three of whose reference photos are cached."""
    storage = services_of(live.app).storage
    prompt = "Black and white film noir portrait, hard key light"
    preset_id = factories.preset(live.app, "Film Noir", prompt=prompt)
    job_id = factories.job(live.app, preset_id, prompt=prompt, created_by="curator@example.com")
    for n, model_id in enumerate(MODELS):
        key = f"examples/{preset_id}/{job_id}/{model_id}-0.png"
        storage.save_bytes(key, picture(f"OUTPUT {model_id}", (40 + n * 30, 40, 60)))

    def first_with_what_made_it(n: int, _model: str) -> dict:
        if n:
            return {}
        return {"model_version": "google/nano-banana", "settings": {"aspect_ratio": "4:5", "output_format": "png"}}

    ids = factories.examples(
        live.app,
        preset_id,
        MODELS,
        job_id=job_id,
        prompt=prompt,
        apart=timedelta(minutes=1),
        each=first_with_what_made_it,
    )
    for model_id in CACHED:  # what `models cache` leaves: the photo and its thumbnail
        label, colour = f"REF {model_id}", (150, 120, 90)
        storage.save_bytes(f"references/{model_id}.jpg", picture(label, colour, (800, 1000), "JPEG"))
        storage.save_bytes(f"references/{model_id}-thumb.webp", picture(label, colour, (256, 320), "WEBP"))
    return preset_id, ids
