"""Analytics in Chromium (issue 19): the page at 1280 and 390 px (no sideways scroll of the page; wide tables
scroll in their own box), each chart's table reached by keyboard, and the range form."""

from __future__ import annotations

from tests.analytics_seed import seed_history
from tests.browser.conftest import ARTIFACTS, PHONE, no_horizontal_overflow, screenshot, sign_in

QUERY = "from=2026-09-01&to=2026-10-31"
REGIONS = ("providers-caption", "models-caption", "presets-caption", "weeks-caption")


def focused_regions(page, presses: int = 200) -> list[str]:
    """Tab through the page; the table regions that took the focus, in order."""
    page.locator("body").focus()
    seen: list[str] = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        label = page.evaluate(
            "(() => { const e = document.activeElement;"
            " return e && e.getAttribute('role') === 'region' ? e.getAttribute('aria-labelledby') : null; })()"
        )
        if label and label not in seen:
            seen.append(label)
        if len(seen) == len(REGIONS):
            break
    return seen


def test_analytics_page_at_1280_and_390_px_by_keyboard(page, live):
    seed_history(live.app)
    sign_in(page)
    page.click("nav >> text=Analytics")
    page.wait_for_url("**/admin/analytics")
    page.fill("input[name=from]", "2026-09-01")
    page.fill("input[name=to]", "2026-10-31")
    page.click("form.analytics-range button[type=submit]")
    page.wait_for_url(f"**/admin/analytics?{QUERY}")
    assert page.locator("svg[role=img] > title").count() == 4
    assert page.locator("#table-presets tbody tr").count() == 20
    assert no_horizontal_overflow(page)
    screenshot(page, "analytics")
    assert focused_regions(page) == list(REGIONS)
    caption = page.evaluate("document.activeElement.querySelector('caption').textContent")
    assert caption.startswith("Weeks, 2026-09-01 – 2026-10-31")

    page.set_viewport_size(PHONE)
    page.goto(f"/admin/analytics?{QUERY}")
    assert no_horizontal_overflow(page), "the page scrolls sideways at 390 px"
    region = page.locator("[role=region][aria-labelledby=models-caption]")
    assert region.evaluate("e => e.scrollWidth > e.clientWidth"), "a wide table scrolls inside its own box"
    assert focused_regions(page) == list(REGIONS)
    region.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    # Chromium animates a keyboard scroll: wait for the box to move instead of reading it at once
    page.wait_for_function("e => e.scrollLeft > 0", arg=region.element_handle(), timeout=5000)
    screenshot(page, "analytics")
    region.screenshot(path=str(ARTIFACTS / "analytics-models-table-390.png"))  # Playwright waits for it to be stable


def test_a_bad_date_says_what_is_wrong_on_the_page(page, live):
    sign_in(page)
    page.goto("/admin/analytics?from=2026-10-31&to=2026-09-01")
    assert "from=2026-10-31 is after to=2026-09-01" in page.locator("[data-error-message]").inner_text()
    assert page.locator("input[name=from]").input_value() == "2026-10-31"
