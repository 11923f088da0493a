"""Production start-up: a configuration error stops gunicorn itself, quickly, naming the variable once
(no workers booted again and again)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


def run_gunicorn(tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "APP_ENV": "production",
        "ADMIN_API_TOKEN": "a-production-token-0123456789",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "REPLICATE_API_TOKEN": "r8_x",
        "INSTANCE_PATH": str(tmp_path / "instance"),
    }  # everything but SECRET_KEY
    start = time.monotonic()
    result = subprocess.run(
        [str(GUNICORN), *args, "-b", "127.0.0.1:0", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result, time.monotonic() - start


def test_gunicorn_with_a_missing_secret_exits_within_10_s_naming_the_variable_once(tmp_path):
    result, elapsed = run_gunicorn(tmp_path, "-w", "4")
    assert result.returncode != 0 and elapsed < 10, (result.returncode, elapsed)
    assert result.stderr.count("SECRET_KEY") == 1, result.stderr
    assert "Booting worker" not in result.stderr  # stopped before forking (gunicorn.conf.py)


def test_without_the_settings_file_the_workers_exit_with_the_code_that_halts_gunicorn(tmp_path):
    result, elapsed = run_gunicorn(tmp_path, "-c", "/dev/null", "-w", "2")
    assert result.returncode != 0 and elapsed < 10, (result.returncode, elapsed)
    assert "SECRET_KEY" in result.stderr and "App failed to load" in result.stderr, result.stderr
    assert result.stderr.count("Booting worker") <= 2  # never booted again
