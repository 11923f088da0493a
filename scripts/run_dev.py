"""Start the web admin and a Huey consumer together; Ctrl-C stops both.

With the embedded (SQLite) queue the consumer polls; `-m 1` caps its idle delay at one
second so a new job starts at once instead of after up to ten.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.services import CONSUMER_COMMAND

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> int:
    port = os.environ.get("PORT", "5000")
    program, *options = shlex.split(CONSUMER_COMMAND)
    consumer = [str(BIN / program), *options, "-m", "1"]
    web = [str(BIN / "flask"), "--app", "wsgi", "run", "--port", port, "--host", "127.0.0.1"]
    processes = [subprocess.Popen(consumer, cwd=ROOT), subprocess.Popen(web, cwd=ROOT)]
    print(f"\n  Admin:  http://127.0.0.1:{port}/admin/presets\n  Worker: {CONSUMER_COMMAND} -m 1\n", flush=True)

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
