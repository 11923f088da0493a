"""Start the web admin and a Huey consumer together; Ctrl-C stops both.

With the embedded (SQLite) queue the consumer polls; `-m 1` caps its idle delay at one
second so a new job starts at once instead of after up to ten.

A newcomer must find how to sign in: once the admin answers, the address and the demo admin's sign-in are
printed last, and the request log shows only requests that went wrong (4xx, 5xx), so they do not scroll away.

Faces: with a Replicate token (online) the registry's reference photos are copied in the background by
`flask models cache` (skipping those already cached), and its outcome is printed when it ends; offline no
download is tried, and the cards show labelled placeholder references. Either way the runner says which.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from app.core.config import ConfigError, load_settings
from app.core.env_file import load_env_file
from app.services import CONSUMER_COMMAND

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CACHE_LOG = "models-cache.log"  # in the instance folder
COLOUR = r"(?:\x1b\[[\d;]*m)?"  # werkzeug colours the request of some statuses
QUIET_REQUEST = re.compile(rf'"{COLOUR}[A-Z]+ \S+ HTTP/[\d.]+{COLOUR}" [23]\d\d ')  # a request that went well


def pass_on(stream: IO[str]) -> None:
    """The web admin's log, without the lines of requests that went well."""
    for line in stream:
        if not QUIET_REQUEST.search(line):
            sys.stderr.write(line)
            sys.stderr.flush()


def wait_for_port(port: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", int(port))) == 0:
                return
        time.sleep(0.2)


def sign_in_line() -> str:
    """What `flask demo` says about the demo admin (its email and password), asked again now that the
    admin runs; empty when there is none."""
    demo = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "demo"], cwd=ROOT, capture_output=True, text=True)
    return next((line for line in demo.stdout.splitlines() if "Demo admin" in line), "")


def online_instance(environ: dict[str, str]) -> Path | None:
    """The instance folder when the app runs against Replicate (a token, from the environment or .env): then
    the photos' addresses are worth trying. None offline: the runner downloads nothing."""
    try:
        load_env_file(environ)
        settings = load_settings(environ)
    except ConfigError:
        return None  # the web admin names the problem itself
    return None if settings.offline else settings.instance_path


def cache_photos_in_background(instance: Path) -> tuple[str, subprocess.Popen]:
    """`flask models cache` in the background, its output in the instance folder; the line saying so."""
    log_path = instance / CACHE_LOG
    with open(log_path, "wb") as log:
        command = [str(BIN / "flask"), "--app", "wsgi", "models", "cache", "--workers", "2"]
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    return f"Reference photos: caching them in the background (progress in {log_path}).", process


def report_when_cached(process: subprocess.Popen, log_path: Path) -> None:
    """The cache command's last word (how many cached, how many failed), printed once it ends."""
    process.wait()
    lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    summary = next((line for line in reversed(lines) if " models: " in line), lines[-1] if lines else "no output")
    outcome = "done" if process.returncode == 0 else "not all cached"
    print(f"  Reference photos {outcome}: {summary}", flush=True)


OFFLINE_PHOTOS = (
    "Reference photos: offline, none is downloaded; the cards show labelled placeholders "
    "(`flask --app wsgi models cache` copies the photos once you are online)."
)


def main() -> int:
    port = os.environ.get("PORT", "5000")
    program, *options = shlex.split(CONSUMER_COMMAND)
    consumer = [str(BIN / program), *options, "-m", "1"]
    web = [str(BIN / "flask"), "--app", "wsgi", "run", "--port", port, "--host", "127.0.0.1"]
    web_process = subprocess.Popen(web, cwd=ROOT, stderr=subprocess.PIPE, text=True, bufsize=1)
    processes = [subprocess.Popen(consumer, cwd=ROOT), web_process]
    assert web_process.stderr is not None
    threading.Thread(target=pass_on, args=(web_process.stderr,), daemon=True).start()
    wait_for_port(port)
    instance = online_instance(dict(os.environ))
    photos, cacher = (OFFLINE_PHOTOS, None) if instance is None else cache_photos_in_background(instance)
    if cacher is not None and instance is not None:
        threading.Thread(target=report_when_cached, args=(cacher, instance / CACHE_LOG), daemon=True).start()
    print(
        f"\n  Admin:  http://127.0.0.1:{port}/admin/presets\n  Worker: {CONSUMER_COMMAND} -m 1\n"
        f"  {photos}\n"
        f"  {sign_in_line() or 'Sign in with your admin account.'}\n"
        "  (Requests that went well are not logged here.)\n",
        flush=True,
    )

    def stop(*_):
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    stop()
    if cacher is not None and cacher.poll() is None:
        cacher.terminate()  # an interrupted cache is simply started again next time (it skips what is done)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    return max((p.returncode or 0) for p in processes)


if __name__ == "__main__":
    sys.exit(main())
