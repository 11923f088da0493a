"""Issue 33, acceptance 4, as a newcomer meets it: a fresh clone, no configuration and no internet beyond the
package index, `make run` (the dev runner: embedded defaults, offline Replicate). Signed in with the password it
prints, they generate from the demo preset in Chromium: every card shows the labelled placeholder reference next
to its output; the preset page loads no pool thumbnail until "choose models" is picked, then exactly 72.
Screenshots in test-artifacts/ (first-run-*.png)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.helpers import free_port, load_run_dev, start_make_run, stop_group, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
DEMO_ADMIN = re.compile(r"Demo admin exists: email (\S+)\s+password (\S+)")
THUMBNAIL = re.compile(r"/admin/models/[^/]+/thumbnail$")
POOL_SIZE = 72


@pytest.fixture(scope="module")
def dev_run(tmp_path_factory):
    """`make run` in a fresh clone with only a shell's environment; yields its address and its printed sign-in."""
    folder = tmp_path_factory.mktemp("first-run")
    clone = folder / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    port = free_port()
    log_path = folder / "run.log"
    with open(log_path, "wb") as log:
        run = start_make_run(clone, port, log)
        try:
            url = f"http://127.0.0.1:{port}"
            assert wait_for_http(f"{url}/api/admin/presets", time.monotonic() + 400) == 401
            deadline = time.monotonic() + 30  # the sign-in line is printed once the admin answers
            while not (found := DEMO_ADMIN.search(log_path.read_text(errors="replace"))):
                assert time.monotonic() < deadline, "make run printed no sign-in line"
                time.sleep(0.3)
            assert load_run_dev().OFFLINE_PHOTOS in log_path.read_text(errors="replace"), (
                "it says the faces are placeholders"
            )
            yield {"url": url, "email": found.group(1), "password": found.group(2)}
        finally:
            stop_group(run)


def signed_in_page(browser, dev_run, viewport: dict):
    context = browser.new_context(viewport=viewport, base_url=dev_run["url"])
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/admin/login")
    page.fill("#email", dev_run["email"])
    page.fill("#password", dev_run["password"])
    page.click("form button[type=submit]")
    page.wait_for_url("**/admin/presets")
    return page


def open_demo_preset(page) -> None:
    page.goto("/admin/presets")
    page.get_by_role("link", name="Professional Headshot").first.click()
    page.wait_for_url(re.compile(r".*/admin/presets/[0-9a-f]+$"))
    page.wait_for_load_state("networkidle")


def test_generate_on_a_fresh_clone_shows_placeholder_faces_and_the_pool_only_when_choosing(browser, dev_run):
    page = signed_in_page(browser, dev_run, DESKTOP)
    try:
        open_demo_preset(page)
        page.click("#generate-form button[type=submit]")
        deadline = time.monotonic() + 180
        while page.locator("#gallery li.example").count() < 20:  # the cards arrive as the job runs
            assert time.monotonic() < deadline, "the first job's 20 cards did not arrive"
            page.wait_for_timeout(500)

        thumbnails: list[str] = []
        page.on("request", lambda r: thumbnails.append(r.url) if THUMBNAIL.search(r.url.split("?")[0]) else None)
        page.reload()
        page.wait_for_load_state("networkidle")
        cards = page.locator("#gallery li.example")
        assert cards.count() == 20
        for card in cards.all():
            model_id = card.get_attribute("data-model-id")
            reference = card.locator("img.reference")
            card.scroll_into_view_if_needed()
            assert reference.get_attribute("src") == f"/admin/models/{model_id}/placeholder.png"
            assert reference.get_attribute("alt") == f"Placeholder (photo not cached) for model {model_id}"
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=reference.element_handle())
            assert card.locator("img.output").count() == 1, "the placeholder stands next to the output"
        assert page.get_by_text("Reference not cached").count() == 0
        page.wait_for_load_state("networkidle")
        screenshot(page, "first-run-cards")
        assert thumbnails == [], "the page without 'choose models' loads no pool thumbnail"

        page.check("#mode-choose")
        page.wait_for_function(
            "n => [...document.querySelectorAll('img.pool-thumb')]"
            ".filter(img => !img.hidden && img.complete && img.naturalWidth > 0).length === n",
            arg=POOL_SIZE,
        )
        page.wait_for_load_state("networkidle")
        assert len(thumbnails) == POOL_SIZE and len(set(thumbnails)) == POOL_SIZE
        screenshot(page, "first-run-choose-models")
    finally:
        page.context.close()


def test_on_a_phone_the_pool_thumbnails_wait_for_choose_models_too(browser, dev_run):
    page = signed_in_page(browser, dev_run, PHONE)
    try:
        thumbnails: list[str] = []
        page.on("request", lambda r: thumbnails.append(r.url) if THUMBNAIL.search(r.url.split("?")[0]) else None)
        open_demo_preset(page)
        assert thumbnails == []
        page.check("#mode-choose")
        page.wait_for_function(
            "n => [...document.querySelectorAll('img.pool-thumb')].filter(img => img.naturalWidth > 0).length === n",
            arg=POOL_SIZE,
        )
        assert len(set(thumbnails)) == POOL_SIZE
        screenshot(page, "first-run-choose-models")
    finally:
        page.context.close()
