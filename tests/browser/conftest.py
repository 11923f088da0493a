"""The production stack for browser tests: PostgreSQL, Redis, the app served by werkzeug in a
thread, a real `huey_consumer` process, the Replicate-compatible server, and headless Chromium.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app import create_app
from app.core.config import load_settings
from app.core.database import db
from app.tasks import enqueue_job
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, REPLICATE_TOKEN, base_env, create_admin, empty_tables
from tests.live_stack import Consumer, isolated_queue

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


class LiveStack:
    def __init__(self, app, env: dict, url: str, replicate):
        self.app = app
        self.env = env
        self.url = url
        self.replicate = replicate
        self.consumer = Consumer(env, Path(env["INSTANCE_PATH"]) / "consumer.log", workers=2)

    def start_consumer(self, timeout: float = 30.0) -> None:
        """`huey_consumer app.tasks.huey`, in its own process group; waits for its heartbeat."""
        self.consumer.start(self.app.extensions["pixelglow"].progress, timeout)

    def stop_consumer(self) -> None:
        self.consumer.stop()

    def query(self, fn):
        with self.app.app_context():
            try:
                return fn()
            finally:
                db.session.remove()


@contextlib.contextmanager
def live_stack(pg_database: str, folder: Path):
    """The app on a random port of 127.0.0.1 against PostgreSQL (emptied) and a Redis database of this
    session's own, with one admin; no consumer until the test calls `live.start_consumer()`. The provider
    answers after 0.3 s (± 0.1 s)."""
    from tests.replicate_server import ReplicateServer

    with isolated_queue() as redis_url:
        replicate = ReplicateServer(token=REPLICATE_TOKEN, latency=0.3, jitter=0.1, seed=7).start()
        instance = folder / "instance"
        instance.mkdir()
        env = base_env(
            instance,
            DATABASE_URL=pg_database,
            REDIS_URL=redis_url,
            MEDIA_DIR=str(instance / "media"),
            GENERATION_MODE="replicate",
            REPLICATE_API_TOKEN=REPLICATE_TOKEN,
            REPLICATE_BASE_URL=replicate.url,
            REPLICATE_POLL_INTERVAL="0.05",
            GENERATION_CONCURRENCY="3",
        )
        app = create_app(load_settings(env), enqueue=enqueue_job)
        with app.app_context():
            with db.engine.begin() as conn:
                empty_tables(conn)
        create_admin(app)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="live-app", daemon=True)
        thread.start()
        stack = LiveStack(app, env, f"http://127.0.0.1:{server.server_port}", replicate)
        try:
            yield stack
        finally:
            stack.stop_consumer()
            server.shutdown()
            thread.join(timeout=5)
            server.server_close()
            replicate.stop()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


@pytest.fixture
def live(pg_database, tmp_path):
    """A live stack of the test's own (`live_stack`)."""
    with live_stack(pg_database, tmp_path) as stack:
        yield stack


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module: Playwright's sync API keeps an event loop running while it is open,
    which would break later tests that call asyncio.run()."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class PageProblems:
    """What must never happen on a page: a JavaScript dialog nobody asked for, a CSP violation, a JS error."""

    def __init__(self):
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.expect_confirm = False
        self.confirmed: list[str] = []  # the questions accepted while expect_confirm was set

    def check(self):
        assert not self.dialogs, f"unexpected dialogs: {self.dialogs}"
        assert not self.page_errors, f"JavaScript errors: {self.page_errors}"
        csp = [m for m in self.console_errors if "Content Security Policy" in m or "Refused" in m]
        assert not csp, f"CSP violations: {csp}"


@pytest.fixture
def page(browser, live):
    context = browser.new_context(viewport=DESKTOP, base_url=live.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems = PageProblems()

    def on_dialog(dialog):
        if dialog.type == "confirm" and problems.expect_confirm:
            problems.confirmed.append(dialog.message)
            dialog.accept()
        else:
            problems.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda m: problems.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.page_errors.append(str(e)))
    page.problems = problems
    yield page
    context.close()
    problems.check()


def sign_in(page, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    page.goto("/admin/login")
    if not ARTIFACTS.joinpath(f"login-{page.viewport_size['width']}.png").exists():
        screenshot(page, "login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form button[type=submit]")
    page.wait_for_url("**/admin/presets")


def create_preset_in_browser(page, name: str, prompt: str = "Studio portrait of this person, soft light") -> str:
    page.goto("/admin/presets/new")
    page.fill("#name", name)
    page.fill("#prompt", prompt)
    page.select_option("#provider", "NANO_BANANA")
    page.click("form.preset-form button[type=submit]")
    page.wait_for_url("**/admin/presets/*")
    return page.url.rsplit("/", 1)[1]


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def screenshot(page, name: str, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}-{page.viewport_size['width']}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
