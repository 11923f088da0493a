"""Acceptance 1, 2 and 8: Generate Examples in real Chromium against a real worker.

The provider (the Replicate-compatible server) answers each prediction after 0.3 s ± 0.1 s and the
worker runs 3 at a time, so a job of 20 takes a few seconds: long enough to watch the bar move.
"""

from __future__ import annotations

import time

from sqlalchemy import func, select

from app.core.database import db
from app.models import Job
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    create_preset_in_browser,
    no_horizontal_overflow,
    screenshot,
    sign_in,
)

PROGRESS = "#progress progress"


def watch_progress(page, timeout: float = 60.0, on_value=None) -> list[int]:
    """Sample the bar until it shows 100 %; returns every distinct value seen, in order."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(
            "() => { const p = document.querySelector('#progress progress'); return p ? Number(p.value) : null; }"
        )
        if value is not None and (not seen or seen[-1] != value):
            seen.append(int(value))
            if on_value:
                on_value(int(value))
        if seen and seen[-1] == 100:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"the bar never reached 100 %; saw {seen}")


def gallery_models(page) -> list[str]:
    return page.eval_on_selector_all("#gallery li.example", "els => els.map(e => e.dataset.modelId)")


def test_generate_examples_fills_the_gallery_live_and_a_second_run_uses_other_models(page, live):
    live.start_consumer()
    sign_in(page)
    screenshot(page, "presets-list-empty")
    preset_id = create_preset_in_browser(page, "Professional Headshot")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    # -- first run: a double click must queue one job -------------------------------------------
    shots = []

    def mid_generation(value: int) -> None:
        if 20 < value < 100 and not shots:
            shots.append(screenshot(page, "preset-mid-generation"))

    page.dblclick("#generate-form button[type=submit]")
    values = watch_progress(page, on_value=mid_generation)
    assert any(20 < v < 100 for v in values), values
    assert values[-1] == 100
    page.wait_for_function("() => document.querySelectorAll('#gallery li.example').length === 20")
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    first = gallery_models(page)
    assert len(first) == len(set(first)) == 20
    assert page.locator("#progress").get_attribute("data-status") == "succeeded"
    assert page.locator("#pool .cell.used").count() == 20
    assert page.locator("#gallery-count").inner_text() == "20"
    assert live.query(lambda: db.session.scalar(select(func.count()).select_from(Job))) == 1
    # the images are our stored copies and they load
    page.locator("#gallery li.example img").first.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('#gallery li.example img').naturalWidth > 0")
    assert all(
        src.startswith("/media/examples/")
        for src in page.eval_on_selector_all("#gallery img", "els => els.map(e => e.getAttribute('src'))")
    )
    screenshot(page, "preset-after-generation")

    # -- second run, on a phone-sized screen: 20 other models ------------------------------------
    page.set_viewport_size(PHONE)
    shots.clear()
    first_job = page.locator("#progress").get_attribute("data-job-id")
    page.click("#generate-form button[type=submit]")
    page.wait_for_function("(old) => document.querySelector('#progress').dataset.jobId !== old", arg=first_job)
    values = watch_progress(page, on_value=mid_generation)
    assert values[-1] == 100
    assert no_horizontal_overflow(page)
    page.wait_for_function("() => document.querySelectorAll('#gallery li.example').length === 40")
    assert page.evaluate("window.__sameDocument") is True
    second = [m for m in gallery_models(page) if m not in first]
    assert len(second) == 20 and not set(second) & set(first)
    assert page.locator("#pool .cell.used").count() == 40
    screenshot(page, "preset-after-second-run")

    # -- the lists, at both widths ---------------------------------------------------------------
    job_id = page.locator("#progress").get_attribute("data-job-id")
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        for path, name in (
            ("/admin/presets", "presets-list"),
            ("/admin/jobs", "jobs"),
            (f"/admin/presets/{preset_id}", "preset-page"),
            (f"/admin/jobs/{job_id}", "job-page"),
            (f"/admin/presets/{preset_id}/edit", "preset-form"),
        ):
            page.goto(path)
            screenshot(page, name)
            assert no_horizontal_overflow(page), f"{path} overflows at {viewport['width']} px"
            if name == "jobs":
                assert page.locator(".jobs-table tbody tr").count() == 2


def test_reload_mid_job_keeps_live_progress_and_polling_stops_when_it_ends(page, live):
    live.start_consumer()
    sign_in(page)
    create_preset_in_browser(page, "Film Noir")
    page.click("#generate-form button[type=submit]")
    page.wait_for_function(
        "() => { const p = document.querySelector('#progress progress'); return p && p.value > 20 && p.value < 100; }"
    )
    page.reload()
    # the same live fragment, polling again
    assert page.locator("#progress[hx-trigger='every 1s']").count() == 1
    value = int(page.locator(PROGRESS).get_attribute("value"))
    assert value < 100
    page.set_viewport_size(PHONE)
    screenshot(page, "preset-mid-generation-reloaded")
    assert no_horizontal_overflow(page)

    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/progress" in r.url else None)
    page.wait_for_selector("#progress[data-status=succeeded]", timeout=60_000)
    ids = page.eval_on_selector_all("#gallery li.example", "els => els.map(e => e.id)")
    assert len(ids) == len(set(ids)) == 20, "an example was shown twice or not at all"
    requests.clear()
    page.wait_for_timeout(3000)
    assert requests == [], f"polling went on after the job ended: {requests}"


def test_deleting_an_example_can_release_its_model(page, live):
    live.start_consumer()
    sign_in(page)
    create_preset_in_browser(page, "Cyberpunk")
    page.click("#generate-form button[type=submit]")
    page.wait_for_selector("#progress[data-status=succeeded]", timeout=60_000)
    preset_url = page.url
    card = page.locator("#gallery li.example").first
    model_id = card.get_attribute("data-model-id")
    card.locator("a[data-example-open]").click()  # delete is on the example's view (issue 32's lean cards)
    dialog = page.locator("dialog.example-dialog")
    dialog.wait_for(state="visible")
    dialog.get_by_label(f"and release model {model_id}").check()
    page.problems.expect_confirm = True
    dialog.get_by_role("button", name=f"Delete the example of {model_id}").click()
    page.wait_for_function(  # on to the next example to review: another model's
        "id => document.querySelector('#example-view-title code').textContent !== id", arg=model_id
    )
    page.problems.expect_confirm = False
    said = page.locator("body").inner_text()
    page.goto(preset_url)
    assert page.locator("#gallery li.example").count() == 19
    assert "free" in page.locator(f"#pool .cell[title^='{model_id} ']").get_attribute("class").split()
    assert page.locator("#pool .cell.used").count() == 19
    assert page.locator("#gallery-count").inner_text() == "19"
    assert "can be selected again" in said + page.locator("#toasts").inner_text()


def test_without_javascript_the_form_lands_on_the_job_page_which_follows_the_job(browser, page, live):
    live.start_consumer()
    context = browser.new_context(java_script_enabled=False, base_url=live.url, viewport=DESKTOP)
    try:
        plain = context.new_page()
        sign_in(plain)
        create_preset_in_browser(plain, "Watercolor")
        plain.click("#generate-form button[type=submit]")
        plain.wait_for_url("**/admin/jobs/*")
        assert "Example generation job queued" in plain.locator("#toasts").inner_text()
        job_path = plain.url.split(live.url, 1)[1]
    finally:
        context.close()
    # the same job page with JavaScript: live progress, then the final per-model table
    sign_in(page)
    page.goto(job_path)
    page.wait_for_selector("h2.panel-title", timeout=60_000)  # reloaded (HX-Refresh) once the job ended
    assert page.locator(".items-table tbody tr").count() == 20
    outcome = page.locator("dd.job-outcome").inner_text()
    assert outcome.startswith("20 stored of 20") and "failed" not in outcome, outcome  # no failure: none named
