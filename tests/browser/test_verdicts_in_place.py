"""Issue 32 in Chromium: on a gallery of 60 examples, a verdict by mouse then three by keyboard alone keep the
page where it was (scroll within 50 px), put the focus on the next card's same button and leave the page's
counts equal to the API's, at 1280 and 390 px; axe finds no WCAG 2 AA violation on the preset page."""

from __future__ import annotations

import pytest

from tests.browser.axe import axe_violations
from tests.browser.conftest import DESKTOP, PHONE, create_preset_in_browser, screenshot, sign_in
from tests.conftest import auth_headers
from tests.factories import seed

STATES = ("featured", "approved", "unreviewed", "rejected")


def page_counts(page) -> dict[str, int]:
    return page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('#gallery-counts [data-count-state]')]"
        ".map(e => [e.dataset.countState, parseInt(e.textContent, 10)]))"
    )


def api_counts(live, preset_id) -> dict[str, int]:
    client = live.app.test_client()
    counts = {}
    for state in STATES:
        gallery = f"/api/admin/presets/{preset_id}/gallery"
        body = client.get(gallery, query_string={"state": state}, headers=auth_headers())
        counts[state] = body.get_json()["total"]
    return counts


def focused(page) -> dict:
    return page.evaluate(
        "() => { const b = document.activeElement; const card = b && b.closest('li.example');"
        " return {verdict: b && b.name === 'verdict' ? b.value.split(':')[1] : null,"
        " example: card && card.id.slice('example-'.length)}; }"
    )


def card_ids(page) -> list[str]:
    return page.locator("#gallery li.example").evaluate_all("els => els.map(e => e.id.slice(8))")


def wait_for_state(page, example_id: str, state: str) -> None:
    page.wait_for_selector(f'#example-{example_id} [data-curation][data-state="{state}"]')


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_verdicts_stay_in_place_by_mouse_and_keyboard(page, live, viewport):
    page.set_viewport_size(viewport)
    sign_in(page)
    preset_id = create_preset_in_browser(page, "Review Sixty")
    seed(live.app, preset_id, ["unreviewed"] * 60)
    page.goto(f"/admin/presets/{preset_id}")
    ids = card_ids(page)
    assert len(ids) == 50  # page 1 of 60
    assert page_counts(page) == api_counts(live, preset_id)

    seventh = page.locator(f"#example-{ids[6]} button[value='{ids[6]}:approved']")
    seventh.scroll_into_view_if_needed()
    page.mouse.wheel(0, 0)
    before = page.evaluate("window.scrollY")
    seventh.click()
    wait_for_state(page, ids[6], "approved")
    page.wait_for_function("id => document.activeElement.closest('#example-' + id)", arg=ids[7])
    after = page.evaluate("window.scrollY")
    assert abs(after - before) <= 50, (before, after)
    assert focused(page) == {"verdict": "approved", "example": ids[7]}
    assert page_counts(page) == api_counts(live, preset_id)

    for n in (7, 8, 9):  # the keyboard alone: Enter on the focused button
        before = page.evaluate("window.scrollY")
        page.keyboard.press("Enter")
        wait_for_state(page, ids[n], "approved")
        page.wait_for_function("id => document.activeElement.closest('#example-' + id)", arg=ids[n + 1])
        after = page.evaluate("window.scrollY")
        assert abs(after - before) <= 50, (n, before, after)
        assert focused(page) == {"verdict": "approved", "example": ids[n + 1]}
        assert page_counts(page) == api_counts(live, preset_id)

    assert card_ids(page) == ids  # the approved cards stay where they were until the next reload
    assert page_counts(page) == {"featured": 0, "approved": 4, "unreviewed": 56, "rejected": 0}
    screenshot(page, "verdicts-in-place", full_page=False)

    page.keyboard.press("Tab")  # on along the card's buttons, not back to the top of the page
    assert page.evaluate("document.activeElement.closest('li.example') !== null")


def test_the_preset_page_has_no_wcag_aa_violation_and_the_pool_buttons_name_their_model(page, live):
    sign_in(page)
    preset_id = create_preset_in_browser(page, "Accessible Gallery")
    seed(live.app, preset_id, ["unreviewed", "approved", "featured", "rejected"] * 3)
    page.goto(f"/admin/presets/{preset_id}")
    violations = axe_violations(page)
    assert not violations, "\n".join(violations)
    names = (
        page.locator("#gallery li.example")
        .first.get_by_role("button")
        .evaluate_all("els => els.map(e => e.textContent.replace(/\\s+/g, ' ').trim())")
    )
    assert any(name.startswith("Feature ") and ", example 1" in name for name in names), names


def test_counts_equal_the_apis_at_every_poll_of_a_running_job_and_page_1_keeps_50_cards(page, live):
    """Acceptance 2: a 20 × 2 job on a gallery of 30: after each poll the page's counts lie between the API's
    read just before and just after it (equal when nothing landed meanwhile), and page 1 never shows more than
    50 cards."""
    live.start_consumer()
    sign_in(page)
    preset_id = create_preset_in_browser(page, "Counted Live")
    seed(live.app, preset_id, ["approved", "unreviewed", "rejected"] * 10)
    page.goto(f"/admin/presets/{preset_id}")
    page.evaluate(
        "() => { window.__polls = []; document.body.addEventListener('htmx:afterSettle', e => {"
        " if (e.detail.requestConfig && String(e.detail.requestConfig.path).includes('/progress')) {"
        " const c = Object.fromEntries([...document.querySelectorAll('#gallery-counts [data-count-state]')]"
        ".map(x => [x.dataset.countState, parseInt(x.textContent, 10)]));"
        " window.__polls.push({counts: c, cards: document.querySelectorAll('#gallery > li.example').length}); } }); }"
    )
    page.fill("#examples_per_model", "2")
    page.click("#generate-form button[type=submit]")
    seen = 0
    while not page.locator("#progress[data-status=succeeded]").count():
        page.wait_for_timeout(150)
        polls = page.evaluate("window.__polls")
        assert all(p["cards"] <= 50 for p in polls), polls
        for poll in polls[seen:]:
            total = sum(api_counts(live, preset_id).values())
            assert sum(poll["counts"].values()) <= total
            assert poll["counts"]["approved"] == 10 and poll["counts"]["rejected"] == 10
        seen = len(polls)
    page.wait_for_timeout(300)
    assert (
        page_counts(page)
        == api_counts(live, preset_id)
        == {
            "featured": 0,
            "approved": 10,
            "unreviewed": 50,
            "rejected": 10,
        }
    )
    assert page.locator("#gallery > li.example").count() == 50
    assert seen > 0
