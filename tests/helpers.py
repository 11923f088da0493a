"""Helpers more than one test module uses, written once here (fixtures live in conftest.py)."""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import IO

import psycopg
import replicate
from sqlalchemy import event

from app import create_app
from app.core.config import load_settings
from app.core.database import db
from app.models import GalleryExample, PresetModelUsage
from app.providers.base import ItemSpec
from app.providers.download.downloader import SafeDownloader
from app.providers.replicate.predictions import ReplicateGenerator
from app.services import services_of
from app.storage.local import MediaStorage
from app.tasks import enqueue_job
from tests.conftest import PG_ADMIN_URL, REPLICATE_TOKEN, auth_headers, base_env, create_admin, sign_in

PROJECT = Path(__file__).resolve().parents[1]


def clean_env(**extra) -> dict:
    """Only what any shell has: nothing of ours, so the run uses its embedded defaults."""
    keep = {
        k: os.environ[k]
        for k in (
            "PATH",
            "HOME",
            "LANG",
            "TMPDIR",
            "PIP_INDEX_URL",
            "PIP_EXTRA_INDEX_URL",
            "PIP_FIND_LINKS",
            "PIP_CONFIG_FILE",
        )
        if k in os.environ
    }
    return {**keep, **extra}


def start_make_run(clone: Path, port: int, log: IO[bytes]) -> subprocess.Popen:
    """`make run` in a clone with only a shell's environment, in its own process group (stopped as one)."""
    return subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=clone,
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@contextlib.contextmanager
def self_signed_certificate(name: str) -> Iterator[tuple[Path, Path]]:
    """A certificate and its key for one name (`DNS:cdn.test`, `IP:127.0.0.1`), made by openssl, valid two days;
    the files are deleted afterwards."""
    openssl = shutil.which("openssl")
    assert openssl, "the TLS tests make their certificate with openssl: install it (.ci/run does)"
    directory = Path(tempfile.mkdtemp(prefix="tests-tls-"))
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name.split(':', 1)[1]}"]
        + ["-addext", f"subjectAltName={name}"],
        check=True,
        capture_output=True,
    )
    try:
        yield cert, key
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def flask_cli(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`flask --app wsgi ARGS` as another terminal runs it: in the project's folder, with only `env`."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def stop_group(process: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a process started in its own session as Ctrl-C in its terminal would (SIGINT to the whole group),
    and SIGKILL the group if it has not ended within `timeout` seconds."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def load_run_dev() -> ModuleType:
    """scripts/run_dev.py (what `make run` starts) as a module, for its texts and functions."""
    spec = importlib.util.spec_from_file_location("run_dev", PROJECT / "scripts" / "run_dev.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A port nothing listens on now (bound, then released): for a server to start on, or to find closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, deadline: float) -> int:
    """The status of the first answer from ``url`` before ``deadline`` (time.monotonic()), else fail."""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in time")


@contextlib.contextmanager
def count_queries(app):
    """The SQL statements the app's engine runs inside the block, as a list filled as they run."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def wait_until(condition, timeout: float = 20.0) -> None:
    """Return once `condition()` is true, polling every 20 ms; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def htmx(client, **extra) -> dict:
    """The headers htmx sends, with the signed-in test client's CSRF token."""
    return {"HX-Request": "true", "X-CSRFToken": client.csrf, **extra}


# the curated order: featured, approved, unreviewed; rejected examples are hidden
RANK = {"featured": 0, "approved": 1, "unreviewed": 2, "rejected": 3}


def curated(app, preset_id, states=("featured", "approved", "unreviewed")) -> list[str]:
    """The curated order computed here, independently of the app's SQL."""
    with app.app_context():
        rows = db.session.query(GalleryExample).filter(GalleryExample.preset_id == preset_id).all()
        rows = [r for r in rows if r.state in states]
    rows.sort(key=lambda r: r.id, reverse=True)
    rows.sort(key=lambda r: r.created_at, reverse=True)
    rows.sort(key=lambda r: (RANK[r.state], r.position is None, r.position or 0))
    return [r.id for r in rows]


def gallery(client, preset_id, **params):
    """One page of a preset's gallery from the admin API (asserted 200)."""
    response = client.get(f"/api/admin/presets/{preset_id}/gallery", query_string=params, headers=auth_headers())
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# the webhook signing secret the tests configure, and the path Replicate posts to
SECRET = "whsec_" + base64.b64encode(b"a test secret of thirty-two byte").decode()
HOOK = "/hooks/replicate"


# a complete production environment: every variable production requires, each valid
PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "s" * 32,
    "ADMIN_API_TOKEN": "t" * 32,
    "DATABASE_URL": "postgresql://app@db/pixelglow",
    "REDIS_URL": "redis://cache:6379/0",
    "REPLICATE_API_TOKEN": "r8_" + "x" * 10,
    "GALLERY_FEED_TOKEN": "f" * 32,
}


class CountingLimiter:
    """A read limiter that never waits and counts the reads it allowed."""

    def __init__(self):
        self.taken = 0

    def acquire(self, stop):
        self.taken += 1
        return True


def generator_for(server, tmp_path, **kw) -> ReplicateGenerator:
    """The app's Replicate generator pointed at the Replicate-compatible test server, storing under tmp_path."""
    client = replicate.Client(api_token=REPLICATE_TOKEN, base_url=server.url)
    downloader = SafeDownloader(server.url, temp_dir=tmp_path / "tmp")  # the test server's plain-http files
    return ReplicateGenerator(
        client, MediaStorage(tmp_path), sd_version="x", poll_interval=0.02, downloader=downloader, **kw
    )


def spec(n: int = 0, **kw) -> ItemSpec:
    """One item to generate (item `n`), any field overridden by keyword."""
    values = dict(
        item_id=n,
        job_id="j" * 32,
        preset_id="p" * 32,
        preset_name="P",
        model_id=f"m{n}",
        gender="female",
        reference_url="https://example.com/ref.png",
        index=0,
        prompt="portrait",
        provider="NANO_BANANA",
        settings={},
    )
    values.update(kw)
    return ItemSpec(**values)


def signed_in(app):
    """A test client signed in as a new admin."""
    create_admin(app)
    client = app.test_client()
    sign_in(client)
    return client


def cache_reference(app, model_id: str) -> None:
    """What `models cache` leaves behind for one model (the bytes do not matter to the pages)."""
    storage = services_of(app).storage
    storage.save_bytes(f"references/{model_id}.jpg", b"photo")
    storage.save_bytes(f"references/{model_id}-thumb.webp", b"thumb")


def tokens_in(html: str) -> set[str]:
    """The CSRF tokens in a page's forms."""
    return set(re.findall(r'name="csrf_token" value="([^"]+)"', html))


def usage_of(app, preset_id) -> dict[str, str]:
    """Model id to its state (reserved, used) for a preset."""
    with app.app_context():
        rows = db.session.query(PresetModelUsage).filter_by(preset_id=preset_id).all()
        return {r.model_id: r.state for r in rows}


def model_of(create: dict) -> str:
    """The reference model a Replicate create request was for (from its image input's file name)."""
    return create["input"]["image_input"][0].rsplit("/", 1)[1].rsplit("_", 1)[0]


def start_comparison(client, preset_id: str, variants: list[dict], model_ids: list[str]) -> dict:
    """A comparison started through the JSON API (202), as the API answers it; with `immediate_huey` its jobs
    have run by the time it returns."""
    response = client.post(
        f"/api/admin/presets/{preset_id}/comparisons",
        json={"variants": variants, "modelIds": model_ids},
        headers=auth_headers(),
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def read_comparison(client, comparison_id: str) -> dict:
    """GET /api/admin/comparisons/<id>, as a Bearer caller."""
    response = client.get(f"/api/admin/comparisons/{comparison_id}", headers=auth_headers())
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@contextlib.contextmanager
def app_on_an_empty_database(tmp_path: Path, database: str) -> Iterator:
    """An app on a database of its own, not yet migrated: a SQLite file, or a PostgreSQL database made for it and
    dropped after (what a migration's down-and-up test walks)."""
    if database == "sqlite":
        env = base_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'pixelglow.sqlite3'}", REDIS_URL="")
        yield create_app(load_settings(env), {"TESTING": True}, enqueue=enqueue_job)
        return
    name = f"pixelglow_migrate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        yield create_app(load_settings(base_env(tmp_path, DATABASE_URL=url)), {"TESTING": True}, enqueue=enqueue_job)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
