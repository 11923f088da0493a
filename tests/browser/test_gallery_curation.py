"""Issue 15 in Chromium: verdicts on a card and in bulk, drag and drop and the move buttons (also from the
keyboard and without JavaScript), the filters and the live cards of a running job, at 1280 and 390 px."""

from __future__ import annotations

from app.core.database import db
from app.models import GalleryExample
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    create_preset_in_browser,
    no_horizontal_overflow,
    screenshot,
    sign_in,
)
from tests.conftest import auth_headers

BY_THE_PICTURE = {"x": 60, "y": 60}  # a card is dragged by its images (a drag cannot start on its buttons)


def order(page) -> list[str]:
    return page.locator("#gallery li.example").evaluate_all("els => els.map(e => e.id.slice('example-'.length))")


def stored_states(live, preset_id) -> dict[str, str]:
    return live.query(lambda: {e.id: e.state for e in db.session.query(GalleryExample).filter_by(preset_id=preset_id)})


def api_order(live, preset_id, **params) -> list[str]:
    client = live.app.test_client()
    body = client.get(f"/api/admin/presets/{preset_id}/gallery", query_string=params, headers=auth_headers())
    return [item["id"] for item in body.get_json()["items"]]


def wait_for_order(page, expected_start: list[str]) -> None:
    page.wait_for_function(
        "ids => { const shown = [...document.querySelectorAll('#gallery li.example')].map(e => e.id.slice(8));"
        " return ids.every((id, n) => shown[n] === id); }",
        arg=expected_start,
    )


def test_curating_the_gallery_with_buttons_bulk_actions_and_drag_and_drop(page, live, browser):
    live.start_consumer()
    sign_in(page)
    preset_id = create_preset_in_browser(page, "Curated Light")
    page.click("#generate-form button[type=submit]")
    page.wait_for_selector("#progress[data-status=succeeded]", timeout=120_000)
    assert page.locator("#gallery li.example").count() == 20  # added live, each once
    page.reload()
    ids = order(page)
    assert len(ids) == 20 and ids == api_order(live, preset_id)  # all unreviewed: newest first

    # one verdict at a time, from the card (htmx swaps the card alone: it stays in place until a reload)
    page.locator(f"#example-{ids[5]}").get_by_role("button", name="Approve").click()
    page.wait_for_selector(f"#example-{ids[5]} .curation[data-state=approved]")
    assert order(page) == ids
    page.locator(f"#example-{ids[9]}").get_by_role("button", name="Feature").click()
    page.wait_for_selector(f"#example-{ids[9]} .curation[data-state=featured]")
    assert "Example of" in page.locator("#toasts").inner_text()
    page.reload()
    wait_for_order(page, [ids[9], ids[5]])

    # reject one and release its model (asked with the gallery's box, beside the bulk buttons)
    rejected = page.locator(f"#example-{ids[0]}")
    model_id = rejected.get_attribute("data-model-id")
    page.locator(".bulk-bar input[name=release]").check()
    rejected.get_by_role("button", name="Reject").click()
    page.wait_for_selector(f"#example-{ids[0]} .curation[data-state=rejected]")
    assert f"Released {model_id}" in page.locator("#toasts").inner_text()
    page.wait_for_selector(f"#pool li.pool-model.free[data-pool-model={model_id}]")  # freed
    page.locator(".bulk-bar input[name=release]").uncheck()

    # bulk: exactly the ticked examples
    for n in (2, 3, 4):
        page.check(f"#example-{ids[n]} input[data-select-example]")
    assert page.locator("[data-selected-count]").inner_text() == "3 examples selected:"
    page.locator(".bulk-actions").get_by_role("button", name="Approve").click()
    page.wait_for_selector(f"#example-{ids[4]} .curation[data-state=approved]")
    states = stored_states(live, preset_id)
    assert {i for i, s in states.items() if s == "approved"} == {ids[2], ids[3], ids[4], ids[5]}
    assert [i for i, s in states.items() if s == "featured"] == [ids[9]]
    assert [i for i, s in states.items() if s == "rejected"] == [ids[0]]
    assert list(states.values()).count("unreviewed") == 14
    wait_for_order(page, [ids[9], ids[2], ids[3], ids[4], ids[5], ids[1]])
    assert page.locator(f"#example-{ids[2]} button[value$=':earlier']").is_disabled()  # first of the approved
    assert page.locator(f"#example-{ids[5]} button[value$=':later']").is_disabled()  # and the last
    screenshot(page, "curation-gallery")

    # drag the last approved onto the left half of the first: it goes before it
    source, target = page.locator(f"#example-{ids[5]}"), page.locator(f"#example-{ids[2]}")
    page.set_viewport_size({"width": 1280, "height": 1600})  # both cards in view: no scrolling mid-drag
    target.scroll_into_view_if_needed()
    source.drag_to(target, source_position=BY_THE_PICTURE, target_position={"x": 12, "y": 60})
    page.wait_for_function("() => document.querySelector('#toasts').innerText.includes('moved to place 1 of 4')")
    wait_for_order(page, [ids[9], ids[5], ids[2], ids[3], ids[4]])
    assert api_order(live, preset_id)[:6] == [ids[9], ids[5], ids[2], ids[3], ids[4], ids[1]]
    # a card does not go into another group
    page.locator(f"#example-{ids[1]}").drag_to(page.locator(f"#example-{ids[9]}"), source_position=BY_THE_PICTURE)
    assert api_order(live, preset_id)[:6] == [ids[9], ids[5], ids[2], ids[3], ids[4], ids[1]]

    # the keyboard's way: the card's "move later" button
    page.locator(f"#example-{ids[5]} button[value$=':later']").focus()
    page.keyboard.press("Enter")
    wait_for_order(page, [ids[9], ids[2], ids[5], ids[3], ids[4]])
    assert api_order(live, preset_id)[:5] == [ids[9], ids[2], ids[5], ids[3], ids[4]]

    # rejected examples come back when asked for; the filters are a GET form
    page.select_option(".gallery-filters select[name=state]", "rejected")
    page.click(".gallery-filters button[type=submit]")
    page.wait_for_url("**state=rejected**")
    page.wait_for_function("() => document.querySelectorAll('#gallery li.example').length === 1")
    assert order(page) == [ids[0]] == api_order(live, preset_id, state="rejected")
    page.reload()  # the address keeps the filter
    assert order(page) == [ids[0]]

    page.set_viewport_size(PHONE)
    page.goto(f"/admin/presets/{preset_id}")
    assert no_horizontal_overflow(page)
    page.locator("#gallery-section").scroll_into_view_if_needed()
    screenshot(page, "curation-gallery")
    page.check(f"#example-{ids[1]} input[data-select-example]")
    page.check(f"#example-{ids[6]} input[data-select-example]")
    page.locator(f"#example-{ids[6]}").scroll_into_view_if_needed()
    assert page.locator("[data-selected-count]").inner_text() == "2 examples selected:"
    assert page.locator("#bulk-form").is_visible() and no_horizontal_overflow(page)  # the bar stays in sight
    screenshot(page, "curation-bulk-bar", full_page=False)

    # without JavaScript: the buttons are plain forms that come back to the page
    context = browser.new_context(viewport=DESKTOP, base_url=live.url, java_script_enabled=False)
    try:
        plain = context.new_page()
        sign_in(plain)
        plain.goto(f"/admin/presets/{preset_id}")
        assert order(plain)[:5] == [ids[9], ids[2], ids[5], ids[3], ids[4]]
        plain.locator(f"#example-{ids[1]}").get_by_role("button", name="Feature").click()
        plain.wait_for_load_state()
        assert order(plain)[:2] == [ids[1], ids[9]]  # neither placed by hand: the newer first
        assert "Example of" in plain.locator("#toasts").inner_text()
        plain.locator(f"#example-{ids[1]} button[value$=':later']").click()
        plain.wait_for_load_state()
        assert order(plain)[:3] == [ids[9], ids[1], ids[2]]
        plain.check(f"#example-{ids[6]} input[data-select-example]")
        plain.check(f"#example-{ids[7]} input[data-select-example]")
        plain.locator(".bulk-actions").get_by_role("button", name="Reject").click()
        plain.wait_for_load_state()
        assert "2 examples rejected." in plain.locator("#toasts").inner_text()
        assert stored_states(live, preset_id)[ids[6]] == stored_states(live, preset_id)[ids[7]] == "rejected"
        plain.set_viewport_size(PHONE)
        assert no_horizontal_overflow(plain)
        screenshot(plain, "curation-gallery-nojs")
    finally:
        context.close()
