"""Acceptance 3, 6, 7 in Chromium: clear usage, hostile names render as text, the no-worker notice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.core.database import db
from app.models import Job, utcnow
from tests import factories
from tests.browser.conftest import PHONE, create_preset_in_browser, no_horizontal_overflow, screenshot, sign_in

HOSTILE = "<script>alert(1)</script>"


def test_clear_usage_from_the_preset_page_frees_all_72_models(page, live):
    sign_in(page)
    preset_id = create_preset_in_browser(page, "Pastel Dream")

    registry = live.app.extensions["pixelglow"].registry()
    factories.mark_used(live.app, preset_id, [m.id for m in registry.all[::3]])
    page.reload()
    assert page.locator("#pool .cell.used").count() == 24
    assert page.locator("#pool .cell").count() == 72
    assert page.locator("#pool .cell").first.get_attribute("title").startswith("male_")
    page.problems.expect_confirm = True  # the button asks first
    page.click("form.clear-usage button")
    page.wait_for_url(f"**/admin/presets/{preset_id}*")
    assert page.locator("#pool .cell.free").count() == 72
    assert page.locator("#pool .cell.used, #pool .cell.reserved").count() == 0
    assert "Cleared 24 usage rows" in page.locator("#toasts").inner_text()


def test_a_preset_named_like_a_script_renders_as_text_everywhere(page, live):
    sign_in(page)
    preset_id = create_preset_in_browser(page, HOSTILE, prompt=f"{HOSTILE} <b>bold</b> portrait")
    assert page.locator("h1.preset-name").inner_text() == HOSTILE
    assert HOSTILE in page.locator("p.prompt").first.inner_text()
    page.click("#generate-form button[type=submit]")  # no consumer: the job stays queued
    page.wait_for_selector("#progress[data-status=queued]")
    for path in (
        "/admin/presets",
        f"/admin/presets?q={HOSTILE}",
        f"/admin/presets/{preset_id}",
        f"/admin/presets/{preset_id}/edit",
        "/admin/jobs",
    ):
        page.goto(path)
        assert HOSTILE in page.locator("main").inner_text(), path
    page.click(".jobs-table a[href^='/admin/jobs/']")
    assert HOSTILE in page.locator("main").inner_text()
    page.problems.check()  # no alert() ran anywhere


def test_a_queued_job_with_no_worker_shows_the_notice(page, live):
    sign_in(page)
    preset_id = create_preset_in_browser(page, "Vintage Film")
    page.click("#generate-form button[type=submit]")
    page.wait_for_selector("#progress[data-status=queued]")
    assert page.locator(".worker-missing").count() == 0  # a worker gets a few seconds first

    def age_the_job():
        job = db.session.scalars(select(Job)).one()
        job.created_at = utcnow() - timedelta(seconds=30)
        db.session.commit()

    live.query(age_the_job)
    page.wait_for_selector("#progress .worker-missing")  # the next poll says it
    assert "huey_consumer app.tasks.huey" in page.locator("#progress .worker-missing").inner_text()
    page.goto("/admin/jobs")
    assert "No worker is running" in page.locator(".worker-missing").inner_text()
    page.set_viewport_size(PHONE)
    page.goto(f"/admin/presets/{preset_id}")
    assert page.locator("#progress .worker-missing").is_visible()
    screenshot(page, "preset-no-worker")
    assert no_horizontal_overflow(page)
    # once a worker starts, the job runs and the notice goes away
    live.start_consumer()
    page.wait_for_selector("#progress[data-status=succeeded]", timeout=60_000)
    assert page.locator(".worker-missing").count() == 0
    assert page.locator("#gallery li.example").count() == 20


def test_an_expired_session_sends_the_polling_page_to_the_login_page(page, live):
    sign_in(page)
    preset_id = create_preset_in_browser(page, "Golden Hour")
    page.click("#generate-form button[type=submit]")  # no consumer: the fragment keeps polling
    page.wait_for_selector("#progress[data-status=queued]")
    page.context.clear_cookies()
    page.wait_for_url(lambda url: "/admin/login?next=" in url, timeout=10_000)
    assert f"/admin/presets/{preset_id}" in page.url
    sign_in_again = page.locator("#email")
    assert sign_in_again.is_visible()


def test_a_refused_htmx_request_shows_its_message_in_the_page(page, live):
    sign_in(page)
    create_preset_in_browser(page, "Neon Nights")
    # a stale CSRF token (as after a server restart with a new secret): the server refuses the post
    page.evaluate("""() => {
        document.body.setAttribute('hx-headers', JSON.stringify({'X-CSRFToken': 'stale'}));
        document.querySelector('#generate-form input[name=csrf_token]').value = 'stale';
    }""")
    with page.expect_response(lambda r: r.url.endswith("/generate")) as answer:
        page.click("#generate-form button[type=submit]")
    assert answer.value.status == 400
    toast = page.locator("#toasts .alert.error")
    toast.wait_for()
    assert "security token" in toast.inner_text()
    assert page.locator("#generate-form button[type=submit]").is_enabled()
    assert live.query(lambda: db.session.scalars(select(Job)).all()) == []
