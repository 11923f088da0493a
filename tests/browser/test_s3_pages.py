"""Chromium on a preset page whose examples live in an S3 bucket (moto on 127.0.0.1): the images load from the
bucket's presigned URLs, the CSP allows the bucket's origin and nothing is refused (1280 and 390 px)."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.browser.conftest import DESKTOP, PHONE, PageProblems, no_horizontal_overflow, screenshot, sign_in
from tests.conftest import create_admin, create_preset, post_generate


@pytest.fixture
def s3_site(make_app, moto_s3, immediate_huey):
    """An app with media in a fresh bucket, one preset with 20 offline examples, served on 127.0.0.1."""
    bucket = moto_s3.new_bucket()
    app = make_app(**moto_s3.env(bucket))
    create_admin(app)
    preset = create_preset(app.test_client())
    post_generate(app.test_client(), preset["id"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="s3-site", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", preset["id"], moto_s3.url
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_the_gallery_loads_its_images_from_the_bucket(browser, s3_site, viewport):
    url, preset_id, bucket_origin = s3_site
    context = browser.new_context(viewport=viewport, base_url=url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems = PageProblems()
    page.on("console", lambda m: problems.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.page_errors.append(str(e)))
    try:
        sign_in(page)
        page.goto(f"/admin/presets/{preset_id}")
        page.wait_for_load_state("networkidle")
        selector = f"img[src^='{bucket_origin}/']"
        bucket_images = page.locator(selector)
        assert bucket_images.count() >= 20, "the gallery's images do not come from the bucket"
        for n in range(bucket_images.count()):  # the cards' images are lazy: bring each into view
            bucket_images.nth(n).scroll_into_view_if_needed()
        page.wait_for_function(
            "s => [...document.querySelectorAll(s)].every(e => e.complete && e.naturalWidth > 0)", arg=selector
        )
        page.evaluate("window.scrollTo(0, 0)")
        assert no_horizontal_overflow(page)
        screenshot(page, "s3-gallery")
    finally:
        context.close()
    problems.check()
