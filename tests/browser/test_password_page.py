"""The change-password page in Chromium, reached from *your sessions*, at desktop and phone widths."""

from __future__ import annotations

from tests.browser.conftest import PHONE, no_horizontal_overflow, screenshot, sign_in
from tests.conftest import ADMIN_PASSWORD

NEW_PASSWORD = "plum orchard at dusk"


def fill_password_form(page, current: str, new: str) -> None:
    page.fill("#current_password", current)
    page.fill("#new_password", new)
    page.fill("#new_password_again", new)
    page.click("form.stack button[type=submit]")


def test_the_admin_changes_the_password_from_the_sessions_page(page, live):
    sign_in(page)
    page.goto("/admin/sessions")
    screenshot(page, "sessions")
    page.click("text=Change your password")
    page.wait_for_url("**/admin/password")
    fill_password_form(page, ADMIN_PASSWORD, "password1234")  # long enough for the browser, common for the rule
    error = page.locator(".alert.error")
    error.wait_for()
    assert "most common passwords" in error.inner_text()
    screenshot(page, "change-password")
    fill_password_form(page, ADMIN_PASSWORD, NEW_PASSWORD)
    page.wait_for_url("**/admin/presets")
    assert "Your password is changed" in page.locator("#toasts").inner_text()

    page.set_viewport_size(PHONE)
    page.goto("/admin/sessions")
    assert no_horizontal_overflow(page)
    screenshot(page, "sessions")
    page.goto("/admin/password")
    assert no_horizontal_overflow(page)
    fill_password_form(page, "not my password", NEW_PASSWORD + "!")
    page.locator(".alert.error").wait_for()
    screenshot(page, "change-password")

    page.context.clear_cookies()
    sign_in(page, password=NEW_PASSWORD)
