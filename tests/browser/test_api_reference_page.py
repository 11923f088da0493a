"""The admin's API reference page (/admin/api) in Chromium: every operation of the contract listed with its
answers, readable at 1280 and 390 px, no horizontal scrolling, no CSP violation; the JSON it links to loads."""

from __future__ import annotations

from app.web.openapi import document
from tests.browser.conftest import PHONE, no_horizontal_overflow, screenshot, sign_in


def test_the_reference_page_lists_every_operation_at_both_widths(page, live):
    sign_in(page)
    page.click("nav.nav >> text=API")
    page.wait_for_url("**/admin/api")
    operations = sum(1 for item in document()["paths"].values() for method in item if method != "parameters")
    assert page.locator("section.api-op").count() == operations
    assert page.locator("#op-getPreset .api-table").nth(1).inner_text().count("404") == 1
    page.click('.api-toc a[href="#op-generateExamples"]')
    assert page.locator("#op-generateExamples").is_visible()
    assert no_horizontal_overflow(page)
    screenshot(page, "api-reference")
    page.set_viewport_size(PHONE)
    page.goto("/admin/api")
    assert no_horizontal_overflow(page)
    screenshot(page, "api-reference")
    screenshot(page, "api-reference-top", full_page=False)
    spec = page.request.get(f"{live.url}/api/openapi.json")
    assert spec.ok and spec.json()["info"]["version"] == document()["info"]["version"]
