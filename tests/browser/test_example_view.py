"""Issue 15 in Chromium: each card shows its reference photo beside the output; a click opens the side-by-side view
(← → move through the gallery, Esc closes and focus returns to the card); without JavaScript the card is a link to
a plain page with previous / next / back links; at 390 px the two images stack and nothing scrolls sideways."""

from __future__ import annotations

from tests.browser.conftest import DESKTOP, PHONE, no_horizontal_overflow, screenshot, sign_in
from tests.browser.gallery_seed import seed_gallery


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
    missing = cards.nth(3).locator(".reference-missing")
    assert missing.get_attribute("aria-label") == "Reference not cached — male_02" and missing.is_visible()
    page.locator("#gallery").scroll_into_view_if_needed()
    screenshot(page, "example-cards")

    cards.nth(1).locator("a[data-example-open]").click()
    dialog = page.locator("dialog.example-dialog")
    dialog.wait_for(state="visible")
    assert shown_id(page) == ids[1]
    assert page.evaluate("document.activeElement.id") == "example-view-title"
    assert dialog.locator("[data-field=started-by]").inner_text() == "curator@example.com"  # not on the lean card
    assert page.url.endswith(f"/admin/presets/{preset_id}/examples/{ids[1]}")  # the URL follows the example shown
    assert page.locator("#gallery li.example").count() == 5  # an overlay on the gallery, not a new page
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
    assert page.url.endswith(f"/admin/presets/{preset_id}")  # closed: the gallery's URL again

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
        assert plain.locator("span[data-keys-hint]").is_hidden()  # no keys without JavaScript: the hint says nothing
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
    assert page.locator("span[data-keys-hint]").is_visible()
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/examples/{ids[3]}")
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**/examples/{ids[2]}")
    page.keyboard.press("Escape")
    page.wait_for_url(f"**/admin/presets/{preset_id}#example-{ids[2]}")
