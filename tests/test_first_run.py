"""README command one on a fresh clone, with no configuration at all."""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from app import create_app
from app.core.config import load_settings
from app.tasks import enqueue_job
from tests.conftest import base_env
from tests.helpers import clean_env, flask_cli, free_port, start_make_run, stop_group, wait_for_http

ROOT = Path(__file__).resolve().parent.parent


DOTENV_TOKEN = "a-token-from-the-dotenv-file-0123"


def test_make_run_on_a_fresh_clone_generates_offline_examples(tmp_path):
    """Twice in one clone: from nothing (no .venv, no instance/, no .env), then with a .env in the project root
    and instance/ removed again. The second run keeps the venv the first made: installing it twice proves
    nothing more and costs half a minute."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    make_run_generates_offline_examples(clone, tmp_path / "run.log", dotenv=False)
    shutil.rmtree(clone / "instance")
    # a .env in the project root: the web app, the consumer and the flask CLI all read it
    (clone / ".env").write_text(f"ADMIN_API_TOKEN={DOTENV_TOKEN}\nOFFLINE_DELAY=0.01\n")
    (clone / ".env").chmod(0o600)
    make_run_generates_offline_examples(clone, tmp_path / "run-env-file.log", dotenv=True)


def make_run_generates_offline_examples(clone: Path, log_path: Path, dotenv: bool) -> None:
    """`make run` in the clone answers, holds the demo preset, and `flask generate --wait` fills its gallery
    with 20 placeholders; then `make run` is stopped."""
    port = free_port()
    log = open(log_path, "wb")
    run = start_make_run(clone, port, log)
    try:
        status = wait_for_http(f"http://127.0.0.1:{port}/api/admin/presets", time.monotonic() + 300)
        assert status == 401, "the admin answers, and asks for credentials"
        secrets = json.loads((clone / "instance" / "dev-secrets.json").read_text())
        if dotenv:
            assert secrets["ADMIN_API_TOKEN"] != DOTENV_TOKEN
            secrets["ADMIN_API_TOKEN"] = DOTENV_TOKEN  # the file's token is the one the admin accepts
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/admin/presets",
            headers={"Authorization": f"Bearer {secrets['ADMIN_API_TOKEN']}"},
        )
        presets = json.loads(urllib.request.urlopen(request, timeout=5).read())["presets"]
        assert [p["name"] for p in presets] == ["Professional Headshot"]

        generate = subprocess.run(
            [
                str(clone / ".venv" / "bin" / "flask"),
                "--app",
                "wsgi",
                "generate",
                "Professional Headshot",
                "--wait",
                "--timeout",
                "120",
            ],
            cwd=clone,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert generate.returncode == 0, generate.stdout + generate.stderr
        assert "succeeded: 20 stored, 0 failed of 20 (offline placeholders)" in generate.stdout

        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/admin/presets/{presets[0]['id']}",
            headers={"Authorization": f"Bearer {secrets['ADMIN_API_TOKEN']}"},
        )
        gallery = json.loads(urllib.request.urlopen(request, timeout=5).read())["gallery"]["items"]
        assert len(gallery) == 20 and all(example["offline"] for example in gallery)
    finally:
        stop_group(run)
        log.close()


def test_the_browsers_own_favicon_request_finds_the_icon(tmp_path):
    """Browsers ask /favicon.ico before any page tells them where the icon is: no 404 on a first visit."""
    app = create_app(
        load_settings(base_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")), enqueue=enqueue_job
    )
    client = app.test_client()
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    assert 'rel="icon"' in client.get("/admin/login").get_data(as_text=True)


def test_cli_commands_print_no_third_party_info_lines(tmp_path):
    """Only what a command says itself: no alembic set-up lines, and `db upgrade` at head says nothing."""

    def flask(*args: str) -> str:
        done = flask_cli(clean_env(INSTANCE_PATH=str(tmp_path), PYTHONPATH=str(ROOT)), *args)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    assert "Running upgrade 0001" in flask("db", "upgrade")  # the migrations it runs are worth reading
    assert flask("db", "upgrade").strip() == ""
    for command in (["presets", "list"], ["users", "list"], ["models", "check"]):
        assert "INFO" not in flask(*command), command


def test_importing_the_app_and_its_entry_points_writes_nothing(tmp_path):
    """No work at import: a fresh copy of the project with an empty environment (PATH only) imports the worker's
    and the web's entry points, and no file appears (Python's own bytecode caches aside), no instance/ at all."""
    copy = tmp_path / "clone"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "instance", "__pycache__", "*.egg-info"))
    before = {p for p in copy.rglob("*") if "__pycache__" not in p.parts}
    done = subprocess.run(
        [sys.executable, "-c", "import app.tasks, wsgi, app.web, app.cli"],
        cwd=copy,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    after = {p for p in copy.rglob("*") if "__pycache__" not in p.parts}
    assert sorted(map(str, after - before)) == []
    assert not (copy / "instance").exists()
