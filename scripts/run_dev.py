"""Start the web admin and a Huey consumer together; Ctrl-C stops both.

With the embedded (SQLite) queue the consumer polls; `-m 1` caps its idle delay at one
second so a new job starts at once instead of after up to ten.

A newcomer must find how to sign in: once the admin answers, the address and the demo admin's sign-in are
printed last, and the request log shows only requests that went wrong (4xx, 5xx), so they do not scroll away.
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

from app.services import CONSUMER_COMMAND

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
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
    print(
        f"\n  Admin:  http://127.0.0.1:{port}/admin/presets\n  Worker: {CONSUMER_COMMAND} -m 1\n"
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
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    return max((p.returncode or 0) for p in processes)


if __name__ == "__main__":
    sys.exit(main())
