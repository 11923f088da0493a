"""Issue 16 in Chromium, from its network log: the preset page's grid requests only thumbnails (the examples' and
the reference photos'), at 1280 and 390 px wide; the side-by-side view requests the example's medium size, and
the original stays a link away."""

from __future__ import annotations

import io
from datetime import timedelta

from app.services import services_of
from app.storage.base import reference_thumb_key
from app.storage.sizes import THUMB, resized_webps, store_sizes
from tests import factories
from tests.browser.conftest import DESKTOP, PHONE, no_horizontal_overflow, screenshot, sign_in
from tests.photos import photo_bytes

MODELS = [f"{gender}_{n:02d}" for n in range(1, 7) for gender in ("female", "male")]  # 12 cards


def seed_sized_gallery(live) -> tuple[str, list[str]]:
    """A preset whose 12 examples are 1024 x 1024 photographs stored with their sizes, their reference
    thumbnails cached; returns the preset id and the example ids, newest first."""
    storage = services_of(live.app).storage
    sources = [photo_bytes(seed, (1024, 1024)) for seed in range(3)]
    for n, model_id in enumerate(MODELS):
        [thumb] = resized_webps(io.BytesIO(photo_bytes(100 + n, (800, 1000), "JPEG", quality=85)), (THUMB,))
        storage.save_bytes(reference_thumb_key(model_id), thumb.data)

    prompt = "Warm golden-hour portrait, shallow depth of field"
    preset_id = factories.preset(live.app, "Golden Hour", prompt=prompt)
    job_id = factories.job(live.app, preset_id, prompt=prompt)

    def stored_with_sizes(n: int, model_id: str) -> dict:
        key = f"examples/{preset_id}/{job_id}/{model_id}-0.png"
        storage.save_bytes(key, sources[n % len(sources)])
        sizes = store_sizes(storage, key, io.BytesIO(sources[n % len(sources)]))
        return dict(
            image_path=key,
            thumb_path=sizes.thumb_key,
            thumb_width=sizes.thumb_width,
            thumb_height=sizes.thumb_height,
            medium_path=sizes.medium_key,
            medium_width=sizes.medium_width,
            medium_height=sizes.medium_height,
        )

    ids = factories.examples(
        live.app, preset_id, MODELS, job_id=job_id, prompt=prompt, apart=timedelta(minutes=1), each=stored_with_sizes
    )
    return preset_id, ids


def load_every_card(page) -> None:
    """Scroll the whole grid into view (the images load lazily) and wait until every image has decoded."""
    gallery = page.locator("#gallery")
    for card in gallery.locator("li.example").all():
        card.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#gallery img')].every(img => img.complete && img.naturalWidth > 0)"
    )


def media_requests(requests: list[str]) -> list[str]:
    return [url.split("/media/", 1)[1] for url in requests if "/media/" in url]


def test_the_grid_requests_only_thumbnails_and_the_side_by_side_view_the_medium_size(page, live):
    preset_id, ids = seed_sized_gallery(live)
    sign_in(page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    for viewport in (DESKTOP, PHONE):
        requests.clear()
        page.set_viewport_size(viewport)
        page.goto(f"/admin/presets/{preset_id}")
        load_every_card(page)
        loaded = media_requests(requests)
        examples = [key for key in loaded if key.startswith("examples/")]
        references = [key for key in loaded if key.startswith("references/")]
        assert len(set(examples)) == len(MODELS) and len(set(references)) == len(MODELS), loaded
        assert all(key.endswith("-thumb.webp") for key in loaded), f"not a thumbnail: {loaded}"
        first = page.locator("#gallery li.example img.output").first
        assert (first.get_attribute("width"), first.get_attribute("height")) == ("320", "320")
        assert first.evaluate("img => img.currentSrc").endswith("-thumb.webp")
        assert no_horizontal_overflow(page)
        page.locator("#gallery").scroll_into_view_if_needed()
        screenshot(page, "gallery-thumbnails", full_page=False)

    page.set_viewport_size(DESKTOP)
    requests.clear()
    page.locator(f"#example-{ids[1]} a[data-example-open]").click()
    dialog = page.locator("dialog.example-dialog")
    dialog.wait_for(state="visible")
    output = dialog.locator("img.output")
    output.evaluate("img => img.decode()")
    assert output.evaluate("img => img.naturalWidth") == 1024  # no srcset here: the medium size's own pixels
    loaded = [key for key in media_requests(requests) if key.startswith("examples/")]
    assert loaded and all(key.endswith("-medium.webp") for key in loaded), loaded
    original = dialog.locator("a[data-field=original]")
    assert original.get_attribute("href").endswith(f"/{MODELS[1]}-0.png")
    screenshot(page, "example-overlay-medium", full_page=False)
    download = page.request.get(original.get_attribute("href"))
    assert download.status == 200 and download.headers["content-type"] == "image/png"
