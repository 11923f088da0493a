"""gunicorn serving the benchmark app with an admin signed in, and wrk measuring it: for the benchmarks that
load a page over real HTTP."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, csrf_token_of
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(os.sys.executable).parent / "gunicorn"
WRK = shutil.which("wrk")
DURATION, CONNECTIONS, THREADS = 10, 16, 2  # wrk: seconds, open connections, threads


@contextlib.contextmanager
def signed_in_gunicorn(app, tmp_path: Path):
    """gunicorn (-w 2 -k gthread, 4 threads) serving the benchmark app on a free port, with an admin signed in:
    yields (base URL, that admin's httpx client, their cookie for wrk); stops the server afterwards."""
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "wb")
    command = [str(GUNICORN), "-w", "2", "-k", "gthread", "--threads", "4", "-b", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [*command, "tests.benchmarks.bench_wsgi:app"],
        cwd=ROOT,
        env={**os.environ, **app.config["TEST_ENV"]},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/admin/login", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        with httpx.Client(base_url=base) as browser:
            token = csrf_token_of(browser.get("/admin/login").text)
            answer = browser.post(
                "/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token}
            )
            assert answer.status_code == 303, answer.text
            yield base, browser, "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def wrk(url: str, cookie: str, htmx: bool = True) -> dict:
    """wrk's requests/s and latency percentiles for `url`, signed in by `cookie` (as htmx asks, by default)."""
    headers = ["-H", f"Cookie: {cookie}"] + (["-H", "HX-Request: true"] if htmx else [])
    out = subprocess.run(
        [WRK, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency", *headers, url],
        capture_output=True,
        text=True,
        timeout=DURATION + 60,
        check=True,
    ).stdout
    assert "Non-2xx" not in out, out

    def latency(label):
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency("50%"),
        "p99": latency("99%"),
        "raw": out,
    }
