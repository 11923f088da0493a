"""Issue 34 in Chromium: the large view's review mode. Twenty examples judged with the keys alone in the gallery's
overlay (the URL follows the example, reload and back work); the same twenty through the plain page's buttons
without JavaScript; with the shortcuts turned off the keys do nothing and the buttons still work."""

from __future__ import annotations

from tests.browser.axe import axe_violations
from tests.browser.conftest import DESKTOP, PHONE, no_horizontal_overflow, screenshot, sign_in
from tests.browser.review_seed import seed_review
from tests.review_helpers import PLAN, STATE_OF_KEY, api_states

IN_DIALOG = "id => document.querySelector('dialog [data-example-view]')?.dataset.exampleId === id"
ON_PAGE = "id => document.querySelector('#main [data-example-view]').dataset.exampleId === id"


def shown(page) -> str | None:
    return page.evaluate("() => document.querySelector('dialog [data-example-view]')?.dataset.exampleId")


def api(live, preset_id: str) -> dict[str, str]:
    return api_states(live.app.test_client(), preset_id)


def test_twenty_examples_judged_with_the_keys_alone_in_the_overlay(page, live):
    preset_id, ids = seed_review(live)
    sign_in(page)
    page.goto(f"/admin/presets/{preset_id}")
    page.locator(f"#example-{ids[0]} a[data-example-open]").click()
    dialog = page.locator("dialog.example-dialog")
    dialog.wait_for(state="visible")
    assert shown(page) == ids[0] and page.url.endswith(f"/examples/{ids[0]}")  # the URL follows the example
    assert dialog.locator("[data-review-progress]").inner_text() == "0 of 20 reviewed in this gallery"
    assert "A approve, F feature, R reject, U reset" in dialog.locator(".keys-hint").inner_text()
    screenshot(page, "review-overlay", full_page=False)
    for n, key in enumerate(PLAN):
        assert shown(page) == ids[n]
        page.keyboard.press(key.lower())
        if n + 1 < len(ids):
            page.wait_for_function(IN_DIALOG, arg=ids[n + 1])
            assert page.url.endswith(f"/examples/{ids[n + 1]}")
            assert dialog.locator("[data-review-progress]").inner_text() == f"{n + 1} of 20 reviewed in this gallery"
        if n == 2:
            assert f"Example of {page_model(ids, n)}" in dialog.locator(".review-messages").inner_text()
    summary = dialog.locator("[data-review-summary]")
    summary.wait_for()
    assert "20 of 20 reviewed in this gallery" in summary.inner_text()
    assert page.url.endswith(f"/admin/presets/{preset_id}/review")
    screenshot(page, "review-summary", full_page=False)
    assert api(live, preset_id) == {i: STATE_OF_KEY[k] for i, k in zip(ids, PLAN, strict=True)}

    page.go_back()  # back: the last example again, in the overlay
    page.wait_for_function(IN_DIALOG, arg=ids[-1])
    page.reload()  # reload: the same example, as a plain page
    assert page.locator("#main [data-example-view]").get_attribute("data-example-id") == ids[-1]
    page.keyboard.press("ArrowLeft")  # on the plain page the keys move too, swapping the view in place
    page.wait_for_function(f"id => !({ON_PAGE})(id)", arg=ids[-1])
    before = page.locator("#main [data-example-view]").get_attribute("data-example-id")
    assert page.url.endswith(f"/examples/{before}") and not page.title().startswith("female_20 ")
    page.go_back()
    page.wait_for_function(ON_PAGE, arg=ids[-1])
    assert page.url.endswith(f"/examples/{ids[-1]}")


def page_model(ids: list[str], n: int) -> str:
    """The model of the n-th seeded example (review_helpers names them male_01, female_02…)."""
    return f"{'female' if n % 2 else 'male'}_{n + 1:02d}"


def test_the_same_twenty_judged_without_javascript_give_the_same_result(browser, live):
    preset_id, ids = seed_review(live)
    context = browser.new_context(viewport=DESKTOP, base_url=live.url, java_script_enabled=False)
    plain = context.new_page()
    try:
        sign_in(plain)
        plain.goto(f"/admin/presets/{preset_id}/review")
        for n, key in enumerate(PLAN):
            assert plain.locator("[data-example-view]").get_attribute("data-example-id") == ids[n]
            assert plain.locator("[data-review-progress]").inner_text() == f"{n} of 20 reviewed in this gallery"
            label = {"A": "Approve", "F": "Feature", "R": "Reject"}[key]
            plain.locator("form[data-review-form] button", has_text=label).click()
            plain.wait_for_load_state()
        assert "20 of 20 reviewed in this gallery" in plain.locator("[data-review-summary]").inner_text()
        screenshot(plain, "review-summary-plain")
        plain.click("[data-review-summary] a[data-example-close]")
        plain.wait_for_url(f"**/admin/presets/{preset_id}")
    finally:
        context.close()
    assert api(live, preset_id) == {i: STATE_OF_KEY[k] for i, k in zip(ids, PLAN, strict=True)}


def test_with_the_shortcuts_off_the_keys_do_nothing_and_the_buttons_still_work(page, live):
    preset_id, ids = seed_review(live, 3)
    sign_in(page)
    page.goto(f"/admin/presets/{preset_id}/review")
    page.wait_for_url(f"**/examples/{ids[0]}")
    page.click("button:has-text('Turn single-key shortcuts off')")
    page.wait_for_selector("[data-example-view][data-keys=off]")
    assert "Single-key shortcuts are off" in page.locator(".keys-hint").inner_text()
    for key in "afru":
        page.keyboard.press(key)
    page.wait_for_timeout(600)
    assert page.locator("[data-example-view]").get_attribute("data-example-id") == ids[0]
    assert set(api(live, preset_id).values()) == {"unreviewed"}
    screenshot(page, "review-keys-off", full_page=False)
    page.click("form[data-review-form] button:has-text('Feature')")
    page.wait_for_selector(f"[data-example-view][data-example-id='{ids[1]}']")
    assert page.url.endswith(f"/examples/{ids[1]}")
    assert api(live, preset_id)[ids[0]] == "featured"
    page.keyboard.press("ArrowRight")  # arrows are not single characters: they still move
    page.wait_for_selector(f"[data-example-view][data-example-id='{ids[2]}']")
    page.reload()  # the setting is the user's: kept across pages
    assert page.locator("[data-example-view]").get_attribute("data-keys") == "off"
    page.click("button:has-text('Turn single-key shortcuts on')")
    page.wait_for_selector("[data-example-view][data-keys=on]")
    page.keyboard.press("r")
    page.wait_for_url(f"**/examples/{ids[1]}")
    assert api(live, preset_id)[ids[2]] == "rejected"


def test_regenerate_from_the_view_makes_one_prediction_and_links_the_two_examples(page, live):
    preset_id, ids = seed_review(live, 2)
    live.start_consumer()
    sign_in(page)
    page.goto(f"/admin/presets/{preset_id}")
    page.locator(f"#example-{ids[0]} a[data-example-open]").click()
    dialog = page.locator("dialog.example-dialog")
    dialog.wait_for(state="visible")
    creates = len(live.replicate.creates)
    page.problems.expect_confirm = True  # asked first: it costs a prediction
    dialog.locator("button", has_text="Regenerate the example of male_01").click()
    dialog.locator("[data-regenerating]").wait_for()  # its progress, in the view
    assert "Regenerating example 1 of model male_01" in dialog.locator(".review-messages").inner_text()
    screenshot(page, "review-regenerating", full_page=False)
    made = dialog.locator("[data-regenerated-as-link]")
    made.wait_for(timeout=60_000)
    assert len(live.replicate.creates) == creates + 1
    assert shown(page) == ids[0] and page.url.endswith(f"/examples/{ids[0]}")
    new_id = made.get_attribute("href").rsplit("/", 1)[1]
    assert new_id not in ids
    page.keyboard.press("ArrowRight")  # the new example is one → away
    page.wait_for_function(IN_DIALOG, arg=new_id)
    back = dialog.locator("[data-regenerated-from] a")
    assert back.get_attribute("href").endswith(f"/examples/{ids[0]}")
    assert "Regenerated from the example of male_01" in dialog.locator("[data-regenerated-from]").inner_text()
    screenshot(page, "review-regenerated", full_page=False)
    back.click()  # and back again, through the link
    page.wait_for_function(IN_DIALOG, arg=ids[0])
    assert page.url.endswith(f"/examples/{ids[0]}")
    assert len(live.replicate.creates) == creates + 1  # one prediction in all


def test_axe_finds_no_wcag_violation_on_the_review_view_at_1280_and_390(page, live):
    preset_id, ids = seed_review(live, 2)
    sign_in(page)
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.goto(f"/admin/presets/{preset_id}/examples/{ids[0]}")  # the plain page
        page.locator("span[data-keys-hint]").wait_for()
        found = axe_violations(page)
        assert found == [], found
        assert no_horizontal_overflow(page)
        screenshot(page, "review-plain")
        page.goto(f"/admin/presets/{preset_id}")  # the overlay on the gallery
        page.locator(f"#example-{ids[1]} a[data-example-open]").click()
        page.locator("dialog.example-dialog [data-example-view]").wait_for()
        found = axe_violations(page)
        assert found == [], found
        screenshot(page, "review-dialog", full_page=False)
    page.click("button:has-text('Turn single-key shortcuts off')")
    page.locator("dialog [data-example-view][data-keys=off]").wait_for()
    assert axe_violations(page) == []
