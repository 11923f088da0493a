"""models.json broken while the admin runs: every page carries the warning, readable on a phone too."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from werkzeug.serving import make_server

from tests.browser.conftest import DESKTOP, PHONE, create_admin, no_horizontal_overflow, screenshot, sign_in
from tests.conftest import create_preset

ROOT = Path(__file__).resolve().parents[2]


def test_the_registry_warning_on_the_preset_pages_at_1280_and_390_px(browser, make_app, tmp_path):
    models = tmp_path / "models.json"
    models.write_text((ROOT / "models.json").read_text())
    app = make_app(MODELS_FILE=str(models))
    create_admin(app)
    preset = create_preset(app.test_client(), name="Broken Registry Demo")
    data = json.loads(models.read_text())
    data["male"][6]["s3Url"] = "http://pixelglow-admin-assets.s3.us-east-1.amazonaws.com/models/male/male_07.png"
    data["female"][2]["id"] = "female_01"
    models.write_text(json.dumps(data))  # broken after the start

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context(viewport=DESKTOP, base_url=f"http://127.0.0.1:{server.server_port}")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        sign_in(page)
        banner = page.locator("#registry-problem")
        assert "models.json is broken: male[6] (id 'male_07') has s3Url" in banner.inner_text()
        assert "(and 1 more)" in banner.inner_text() and "last good registry (72 models)" in banner.inner_text()
        for viewport, name in ((DESKTOP, "registry-broken-preset"), (PHONE, "registry-broken-preset")):
            page.set_viewport_size(viewport)
            page.goto(f"/admin/presets/{preset['id']}")
            assert banner.is_visible()
            assert page.locator("#pool .cell").count() == 72  # the last good registry's pool
            assert no_horizontal_overflow(page)
            screenshot(page, name, full_page=False)
        assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
    finally:
        context.close()
        server.shutdown()
        server.server_close()
