"""Issue 15 in Chromium: each card shows its reference photo beside the output; a click opens the side-by-side view
(← → move through the gallery, Esc closes and focus returns to the card); without JavaScript the card is a link to
a plain page with previous / next / back links; at 390 px the two images stack and nothing scrolls sideways."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image, ImageDraw, ImageFont

from app.core.database import db
from app.models import GalleryExample, Job, Preset, utcnow
from app.services import services_of
from tests.browser.conftest import DESKTOP, PHONE, no_horizontal_overflow, screenshot, sign_in

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

    def add():
        preset = Preset(name="Film Noir", prompt="Black and white film noir portrait, hard key light")
        db.session.add(preset)
        db.session.flush()
        job = Job(preset_id=preset.id, prompt=preset.prompt, provider="NANO_BANANA", status="succeeded")
        job.created_by = "curator@example.com"
        db.session.add(job)
        db.session.flush()
        now, ids = utcnow(), []
        for n, model_id in enumerate(MODELS):
            key = f"examples/{preset.id}/{job.id}/{model_id}-0.png"
            storage.save_bytes(key, picture(f"OUTPUT {model_id}", (40 + n * 30, 40, 60)))
            example = GalleryExample(
                preset_id=preset.id,
                job_id=job.id,
                model_id=model_id,
                gender=model_id.split("_")[0],
                provider="NANO_BANANA",
                prompt=preset.prompt,
                image_path=key,
                model_version="google/nano-banana" if n == 0 else None,
                settings={"aspect_ratio": "4:5", "output_format": "png"} if n == 0 else None,
                created_at=now - timedelta(minutes=n),
            )
            db.session.add(example)
            db.session.flush()
            ids.append(example.id)
        db.session.commit()
        return preset.id, ids

    for model_id in CACHED:  # what `models cache` leaves: the photo and its thumbnail
        label, colour = f"REF {model_id}", (150, 120, 90)
        storage.save_bytes(f"references/{model_id}.jpg", picture(label, colour, (800, 1000), "JPEG"))
        storage.save_bytes(f"references/{model_id}-thumb.webp", picture(label, colour, (256, 320), "WEBP"))
    return live.query(add)


def shown_id(page) -> str:
    return page.locator("dialog.example-dialog [data-example-view]").get_attribute("data-example-id")


def wait_for_shown(page, example_id: str) -> None:
    page.wait_for_function(
        "id => document.querySelector('dialog [data-example-view]').dataset.exampleId === id", arg=example_id
    )


def test_a_card_opens_the_side_by_side_view_and_the_keys_move_and_close_it(page, live):
    preset_id, ids = seed_gallery(live)
    sign_in(page)
    page.goto(f"/admin/presets/{preset_id}")
    cards = page.locator("#gallery li.example")
    assert cards.count() == 5
    first = cards.nth(0)
    first.locator("img.reference").evaluate("img => img.decode()")  # the cached thumbnail loads, from our origin
    assert first.locator("img.reference").evaluate("img => img.naturalWidth") == 256
    assert "curator@example.com" in first.locator(".example-meta").inner_text()
    missing = cards.nth(3).locator(".reference-missing")
    assert missing.get_attribute("aria-label") == "Reference not cached — male_02" and missing.is_visible()
    page.locator("#gallery").scroll_into_view_if_needed()
    screenshot(page, "example-cards")

    cards.nth(1).locator("a[data-example-open]").click()
    dialog = page.locator("dialog.example-dialog")
    dialog.wait_for(state="visible")
    assert shown_id(page) == ids[1]
    assert page.evaluate("document.activeElement.id") == "example-view-title"
    assert page.url.endswith(f"/admin/presets/{preset_id}")  # an overlay on the gallery, not a new page
    dialog.locator("img.reference").evaluate("img => img.decode()")
    screenshot(page, "example-overlay", full_page=False)

    page.keyboard.press("ArrowRight")
    wait_for_shown(page, ids[2])
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")  # two quick presses move two steps
    wait_for_shown(page, ids[0])
    assert "not recorded" not in dialog.inner_text() and "aspect_ratio=4:5" in dialog.inner_text()
    page.keyboard.press("ArrowLeft")  # the newest has no previous: it stays
    page.wait_for_timeout(300)
    assert shown_id(page) == ids[0]

    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.closest('li.example').id") == f"example-{ids[0]}"

    cards.nth(4).locator("a[data-example-open]").click()  # the oldest, whose reference is not cached
    dialog.wait_for(state="visible")
    assert shown_id(page) == ids[4]
    assert dialog.locator(".reference-missing").get_attribute("aria-label") == "Reference not cached — female_20"
    assert dialog.inner_text().count("not recorded") == 2
    page.keyboard.press("ArrowRight")  # the oldest has no next
    page.wait_for_timeout(300)
    assert shown_id(page) == ids[4]
    dialog.locator("button[data-dialog-close]").click()
    dialog.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.closest('li.example').id") == f"example-{ids[4]}"

    page.set_viewport_size(PHONE)
    assert no_horizontal_overflow(page)
    page.locator("#gallery").scroll_into_view_if_needed()
    screenshot(page, "example-cards")
    cards.nth(0).locator("a[data-example-open]").click()
    dialog.wait_for(state="visible")
    figures = dialog.locator(".example-compare figure")
    top, bottom = figures.nth(0).bounding_box(), figures.nth(1).bounding_box()
    assert bottom["y"] >= top["y"] + top["height"] - 1  # stacked, the reference first
    assert dialog.evaluate("d => d.scrollWidth <= d.clientWidth") and no_horizontal_overflow(page)
    screenshot(page, "example-overlay", full_page=False)
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")


def test_without_javascript_a_card_is_a_link_to_a_plain_page_with_previous_next_and_back(browser, page, live):
    preset_id, ids = seed_gallery(live)
    context = browser.new_context(viewport=DESKTOP, base_url=live.url, java_script_enabled=False)
    plain = context.new_page()
    try:
        sign_in(plain)
        plain.goto(f"/admin/presets/{preset_id}")
        plain.locator(f"#example-{ids[1]} a[data-example-open]").click()
        plain.wait_for_url(f"**/admin/presets/{preset_id}/examples/{ids[1]}")
        assert plain.locator("[data-example-view]").get_attribute("data-example-id") == ids[1]
        assert plain.locator("[data-keys-hint]").is_hidden()  # no keys without JavaScript: the hint says nothing
        assert "Black and white film noir portrait" in plain.locator("[data-field=prompt]").inner_text()
        plain.locator("img.reference").evaluate("img => img.complete && img.naturalWidth")
        screenshot(plain, "example-plain")

        plain.click("a[rel=next]")
        plain.wait_for_url(f"**/examples/{ids[2]}")
        plain.click("a[rel=prev]")
        plain.wait_for_url(f"**/examples/{ids[1]}")
        plain.click("a[rel=prev]")
        plain.wait_for_url(f"**/examples/{ids[0]}")
        assert plain.locator("a[rel=prev]").count() == 0

        plain.set_viewport_size(PHONE)
        assert no_horizontal_overflow(plain)
        screenshot(plain, "example-plain")
        plain.click("a[data-example-close]")
        plain.wait_for_url(f"**/admin/presets/{preset_id}#example-{ids[0]}")
        assert no_horizontal_overflow(plain)
    finally:
        context.close()


def test_with_javascript_the_plain_page_follows_the_keys_too(page, live):
    preset_id, ids = seed_gallery(live)
    sign_in(page)
    page.goto(f"/admin/presets/{preset_id}/examples/{ids[2]}")
    assert page.locator("[data-keys-hint]").is_visible()
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/examples/{ids[3]}")
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**/examples/{ids[2]}")
    page.keyboard.press("Escape")
    page.wait_for_url(f"**/admin/presets/{preset_id}#example-{ids[2]}")
