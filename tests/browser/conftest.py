"""The production stack for browser tests: PostgreSQL, Redis, the app served by werkzeug in a
thread, a real `huey_consumer` process, the Replicate-compatible server, and headless Chromium.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import redis as redis_lib
from huey.storage import RedisStorage
from werkzeug.serving import make_server

from app import create_app
from app.config import load_settings
from app.extensions import db
from app.tasks import huey
from tests.conftest import (
    ADMIN_EMAIL, ADMIN_PASSWORD, REDIS_TEST_URL, REPLICATE_TOKEN, TABLES, base_env, create_admin,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# The live stack's queue, progress and heartbeats live in a Redis database of their own (10-15, by
# process), so a real consumer never takes tasks of another test session sharing database 9, and a
# `flushdb` there never drops ours.
BROWSER_REDIS_URL = os.environ.get(
    "TEST_BROWSER_REDIS_URL", REDIS_TEST_URL.rsplit("/", 1)[0] + f"/{10 + os.getpid() % 6}")


class LiveStack:
    def __init__(self, app, env: dict, url: str, replicate):
        self.app = app
        self.env = env
        self.url = url
        self.replicate = replicate
        self.consumer: subprocess.Popen | None = None
        self.consumer_log: Path = Path(env["INSTANCE_PATH"]) / "consumer.log"

    def start_consumer(self, timeout: float = 30.0) -> None:
        """`huey_consumer app.tasks.huey -w 2 -k thread`, in its own process group; waits for its heartbeat."""
        self.consumer_log.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.consumer_log, "ab")
        self.consumer = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "huey_consumer"), "app.tasks.huey", "-w", "2", "-k", "thread"],
            cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        progress = self.app.extensions["pixelglow"].progress
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.consumer.poll() is not None:
                raise AssertionError(f"the consumer exited: {self.consumer_log.read_text()[-3000:]}")
            if progress.alive():
                return
            time.sleep(0.1)
        raise AssertionError(f"no consumer heartbeat within {timeout} s: {self.consumer_log.read_text()[-3000:]}")

    def stop_consumer(self) -> None:
        if self.consumer is None or self.consumer.poll() is not None:
            return
        os.killpg(self.consumer.pid, signal.SIGINT)  # graceful: running tasks finish
        try:
            self.consumer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.consumer.pid, signal.SIGKILL)
            self.consumer.wait(timeout=5)

    def query(self, fn):
        with self.app.app_context():
            try:
                return fn()
            finally:
                db.session.remove()


@pytest.fixture
def browser_redis():
    """Point this process's Huey queue at the browser tests' Redis database for one test."""
    client = redis_lib.Redis.from_url(BROWSER_REDIS_URL)
    client.flushdb()
    original = huey.storage
    huey.storage = RedisStorage(huey.name, url=BROWSER_REDIS_URL)
    try:
        yield BROWSER_REDIS_URL
    finally:
        huey.storage = original
        client.flushdb()
        client.close()


@pytest.fixture
def live(pg_database, browser_redis, tmp_path):
    """The app on a random port of 127.0.0.1 against PostgreSQL and Redis, with one admin; no consumer
    until the test calls `live.start_consumer()`. The provider answers after 0.3 s (± 0.1 s)."""
    from tests.replicate_server import ReplicateServer

    replicate = ReplicateServer(token=REPLICATE_TOKEN, latency=0.3, jitter=0.1, seed=7).start()
    instance = tmp_path / "instance"
    instance.mkdir()
    env = base_env(
        instance, DATABASE_URL=pg_database, REDIS_URL=browser_redis, MEDIA_DIR=str(instance / "media"),
        GENERATION_MODE="replicate", REPLICATE_API_TOKEN=REPLICATE_TOKEN, REPLICATE_BASE_URL=replicate.url,
        REPLICATE_POLL_INTERVAL="0.05", GENERATION_CONCURRENCY="3",
    )
    app = create_app(load_settings(env))
    with app.app_context():
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)} CASCADE")
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
