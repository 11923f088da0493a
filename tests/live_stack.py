"""Real `huey_consumer` processes for tests that need a worker outside the test process.

Each test session gets a Redis database of its own for the queue (one of 10-15 that no other live
session has claimed), so a consumer never takes tasks of another session running at the same time, and
this process's Huey instance is pointed at it for the duration of a test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis as redis_lib
from huey.storage import RedisStorage

from app.tasks import huey
from tests.conftest import REDIS_TEST_URL

ROOT = Path(__file__).resolve().parent.parent
HUEY_CONSUMER = Path(sys.executable).parent / "huey_consumer"
CLAIM_KEY = "pixelglow:test-session"  # which session uses this database (expires if the session dies)
CLAIM_SECONDS = 6 * 3600


def claim_database(base: str, databases=range(10, 16)) -> str:
    """A Redis database no other running test session holds: claimed with SET NX, or the pid's share."""
    for number in databases:
        client = redis_lib.Redis.from_url(f"{base}/{number}")
        try:
            owner = client.get(CLAIM_KEY)
            if owner is None or owner.decode() == str(os.getpid()):
                if client.set(CLAIM_KEY, os.getpid(), nx=owner is None, ex=CLAIM_SECONDS) or owner is not None:
                    return f"{base}/{number}"
            elif not _alive(int(owner)):
                client.set(CLAIM_KEY, os.getpid(), ex=CLAIM_SECONDS)
                return f"{base}/{number}"
        except redis_lib.RedisError:
            break
        finally:
            client.close()
    return f"{base}/{10 + os.getpid() % 6}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


ISOLATED_REDIS_URL = os.environ.get("TEST_ISOLATED_REDIS_URL") or claim_database(REDIS_TEST_URL.rsplit("/", 1)[0])


@contextlib.contextmanager
def isolated_queue(url: str = ISOLATED_REDIS_URL):
    """Point this process's Huey queue at `url` (flushed before and after)."""
    client = redis_lib.Redis.from_url(url)
    client.flushdb()
    client.set(CLAIM_KEY, os.getpid(), ex=CLAIM_SECONDS)  # the flush took this session's claim with it
    original = huey.storage
    huey.storage = RedisStorage(huey.name, url=url)
    try:
        yield url
    finally:
        huey.storage = original
        client.flushdb()
        client.close()


class Consumer:
    """`huey_consumer app.tasks.huey` in its own process group, with the app's environment."""

    def __init__(self, env: dict, log_path: Path, workers: int = 4):
        self.env = env
        self.log_path = log_path
        self.workers = workers
        self.process: subprocess.Popen | None = None

    def start(self, progress_store=None, timeout: float = 30.0) -> Consumer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(HUEY_CONSUMER), "app.tasks.huey", "-w", str(self.workers), "-k", "thread", "-d", "0.1"],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if progress_store is not None:
            self.wait_until_alive(progress_store, timeout)
        return self

    def wait_until_alive(self, progress_store, timeout: float) -> None:
        name_suffix = f"-{self.process.pid}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the consumer exited: {self.log_tail()}")
            if any(name.endswith(name_suffix) for name in progress_store.alive()):
                return
            time.sleep(0.05)
        raise AssertionError(f"no heartbeat from the consumer within {timeout} s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: the task in hand is lost, as in a crash."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except FileNotFoundError:
            return "(no log)"


class LiveWeb:
    """The app served over real HTTP (werkzeug, a thread) so the test server can POST webhooks to it.
    The port is known before the app exists (PUBLIC_BASE_URL is part of the app's settings): `.app` is set later."""

    def __init__(self):
        from werkzeug.serving import make_server  # only the webhook tests and benchmarks need a live server

        self.app = None
        self.server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-web", daemon=True)
        self.thread.start()

    def _dispatch(self, environ, start_response):
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no app yet"]
        return self.app(environ, start_response)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
