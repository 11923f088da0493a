"""A preset whose provider is retired (issue 35, acceptance 4), in Chromium at 1280 and 390 px: the page says so
and offers the active providers, readable on a phone and axe-clean; the generate form answers with the reason
beside the form, naming the active ones, and nothing is queued."""

from __future__ import annotations

from sqlalchemy import func, select

from app import provider_rows
from app.core.database import db
from app.models import Job
from tests.browser.axe import axe_violations
from tests.browser.conftest import DESKTOP, PHONE, no_horizontal_overflow, screenshot, sign_in
from tests.conftest import create_preset


def set_state(live, state: str) -> None:
    def change():
        provider_rows.set_state("FLUX_PRO", state)
        db.session.commit()

    live.query(change)


def test_the_retired_providers_preset_page_and_its_generate_form(page, live):
    preset = create_preset(live.app.test_client(), name="Old Flux Look", provider="FLUX_PRO")
    set_state(live, provider_rows.RETIRED)
    try:
        sign_in(page)
        page.goto(f"/admin/presets/{preset['id']}")
        banner = page.locator("#provider-retired")
        text = banner.inner_text()
        assert text.startswith("FLUX 1.1 Pro is retired:") and "switch it to an active provider" in text
        for name in ("Nano Banana", "FLUX Kontext Pro", "Stable Diffusion img2img"):
            assert name in text
        for viewport in (DESKTOP, PHONE):
            page.set_viewport_size(viewport)
            screenshot(page, "retired-provider-preset")
            assert no_horizontal_overflow(page), f"the page scrolls sideways at {viewport['width']} px"
            assert axe_violations(page) == [], f"axe at {viewport['width']} px"

        page.set_viewport_size(DESKTOP)
        page.locator("#generate-form button[type=submit]").click()
        feedback = page.locator("#generate-feedback")
        feedback.get_by_text("FLUX 1.1 Pro (FLUX_PRO) is retired").wait_for()
        assert "Nano Banana (NANO_BANANA)" in feedback.inner_text()
        screenshot(page, "retired-provider-generate", full_page=False)
        assert live.query(lambda: db.session.scalar(select(func.count()).select_from(Job))) == 0

        page.locator("#provider-retired a").click()
        page.wait_for_url(f"**/admin/presets/{preset['id']}/edit")
        assert "this preset's provider, is retired" in page.locator("#provider-retired").inner_text()
        for viewport in (DESKTOP, PHONE):
            page.set_viewport_size(viewport)
            screenshot(page, "retired-provider-edit")
            assert no_horizontal_overflow(page)
    finally:
        set_state(live, provider_rows.ACTIVE)  # the live stack keeps its provider rows between tests
