"""Issue 18 in Chromium: the generate form's estimate against what is left of the month's limit (kept up to
date as the admin changes the run), and spend on the jobs list and the job page, at desktop and phone width."""

from __future__ import annotations

import dataclasses

from tests.browser.conftest import DESKTOP, PHONE, create_preset_in_browser, no_horizontal_overflow, screenshot, sign_in


def test_the_generate_form_warns_before_a_run_passes_the_limit_and_the_jobs_show_what_they_cost(page, live):
    services = live.app.extensions["pixelglow"]
    services.settings = dataclasses.replace(services.settings, spend_limit_per_month=1.0)  # this web process
    live.start_consumer()
    sign_in(page)
    preset_id = create_preset_in_browser(page, "Budget Headshot")
    estimate, over = page.locator("#generate-estimate"), page.locator("[data-over-budget]")
    assert "20 images · up to $0.78" in " ".join(estimate.inner_text().split())
    assert "$1.00 left of this month's $1.00 limit" in page.locator("#budget-left").inner_text()
    assert over.is_hidden()
    page.fill("#examples_per_model", "2")
    assert "up to $1.56" in estimate.inner_text() and over.is_visible(), "40 images would pass what is left"
    screenshot(page, "spend-generate-over")
    page.fill("#examples_per_model", "1")
    assert over.is_hidden()

    page.click("#generate-form button[type=submit]")
    page.wait_for_selector("#progress[data-status=succeeded]", timeout=60_000)
    page.reload()
    assert page.locator(".preset-spend").inner_text().startswith("$0.78")
    assert "$0.22 left" in page.locator("#budget-left").inner_text() and over.is_visible()
    screenshot(page, "spend-preset")

    page.goto("/admin/jobs")
    assert page.locator("td.job-spend").all_inner_texts() == ["$0.78"]
    assert "$0.78 spent" in page.locator(".spend-month").inner_text()
    screenshot(page, "spend-jobs")
    page.locator("table.jobs-table td a", has_text="Details").click()
    assert page.locator("dd.job-spend").inner_text() == "$0.78"
    assert page.locator("td.item-cost").all_inner_texts() == ["$0.039"] * 20
    screenshot(page, "spend-job")

    page.set_viewport_size(PHONE)
    for path, name in ((f"/admin/presets/{preset_id}", "spend-preset"), ("/admin/jobs", "spend-jobs")):
        page.goto(path)
        assert no_horizontal_overflow(page), f"{path} scrolls sideways at {PHONE['width']} px"
        screenshot(page, name)
    page.set_viewport_size(DESKTOP)
