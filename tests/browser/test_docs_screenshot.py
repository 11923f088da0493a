"""The README's screenshot, `docs/preset-page.png`: a preset's page with a curated gallery, made in Chromium at
1280 px by every browser run, so it shows the page as it is (also saved at 390 px in test-artifacts/)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from app.core.database import db
from app.models import GalleryExample
from tests.browser.conftest import DESKTOP, PHONE, no_horizontal_overflow, screenshot, sign_in
from tests.browser.gallery_seed import seed_gallery

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "preset-page.png"
TALL = {"width": DESKTOP["width"], "height": 2200}  # tall enough for the form, the pool and the gallery
VERDICTS = ["featured", "approved", "approved"]  # the newest three; the others stay unreviewed


def test_the_readmes_screenshot_of_a_preset_page(page, live):
    preset_id, ids = seed_gallery(live)

    def review():
        for example_id, state in zip(ids, VERDICTS, strict=False):
            db.session.get(GalleryExample, example_id).state = state
        db.session.commit()

    live.query(review)
    sign_in(page)
    page.set_viewport_size(TALL)
    page.goto(f"/admin/presets/{preset_id}")
    page.locator("#gallery li.example").first.wait_for()
    assert page.locator("#gallery li.example").count() == len(ids)
    last = page.locator("#gallery li.example").last.bounding_box()
    assert last["y"] + last["height"] < TALL["height"]  # the whole gallery is in the picture
    page.screenshot(path=str(DOCS_SCREENSHOT), full_page=False)
    with Image.open(DOCS_SCREENSHOT) as image:
        assert image.size == (TALL["width"], TALL["height"])

    page.set_viewport_size(PHONE)
    page.reload()
    assert no_horizontal_overflow(page)
    screenshot(page, "docs-preset-page")
