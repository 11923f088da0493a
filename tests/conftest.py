"""Fixtures: a real PostgreSQL and Redis on 127.0.0.1, SQLite and the embedded store when
asked for, and a Replicate-compatible HTTP server driven by the real `replicate` client.

PostgreSQL and Redis must be running (`.ci/run` starts them): a missing service fails
the tests that need it instead of skipping them.
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from pathlib import Path

import jinja2
import psycopg
import pytest
import redis as redis_lib
from flask import Flask
from werkzeug.security import generate_password_hash

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")


def worker_redis_url(url: str, worker: str | None) -> str:
    """Each pytest-xdist worker (gw0, gw1, ...) its own Redis database, counting down from the one given, since
    tests flush it: gw0 uses TEST_REDIS_URL's database N, gw1 N - 1, ... (10-15 stay live_stack.py's)."""
    if not worker:
        return url
    base, number = url.rsplit("/", 1)
    database = int(number) - int(worker.removeprefix("gw"))
    if database < 0:
        raise RuntimeError(f"TEST_REDIS_URL's database {number} leaves no Redis database for xdist worker {worker}")
    return f"{base}/{database}"


REDIS_TEST_URL = worker_redis_url(
    os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9"), os.environ.get("PYTEST_XDIST_WORKER")
)
API_TOKEN = "test-admin-token-0123456789"
REPLICATE_TOKEN = "r8_test_token_not_real"

# The Huey instance is built from the environment when app.tasks is imported: point it at
# the test Redis database before anything imports the app.
_session_instance = Path(os.environ.get("TMPDIR", "/tmp")) / f"pixelglow-tests-{os.getpid()}"
os.environ.update(
    APP_ENV="development",
    SECRET_KEY="test-secret-key-0123456789",
    ADMIN_API_TOKEN=API_TOKEN,
    REDIS_URL=REDIS_TEST_URL,
    INSTANCE_PATH=str(_session_instance),
    GENERATION_MODE="offline",
)
os.environ.pop("GENERATE_QUEUE", None)
os.environ.pop("DATABASE_URL", None)


class SharedTemplates(jinja2.BytecodeCache):
    """Compiled templates shared by every app this test process builds: each app's own Jinja environment would
    parse and compile them all again (~0.1 s a test). Keyed by name and checked against the source by Jinja."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": SharedTemplates()}

from app import create_app, provider_rows  # noqa: E402
from app.core.config import load_settings  # noqa: E402
from app.core.database import db  # noqa: E402
from app.models import Job  # noqa: E402
from app.tasks import enqueue_job, huey  # noqa: E402


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this test session, migrated with our migrations."""
    name = f"pixelglow_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url, _session_instance / "pg-migrate")
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def upgrade(database_url: str, instance: Path) -> None:
    from flask_migrate import upgrade as migrate_upgrade

    app = create_app(load_settings(base_env(instance, DATABASE_URL=database_url)), enqueue=enqueue_job)
    with app.app_context():
        migrate_upgrade()
        db.engine.dispose()


def base_env(instance: Path, **extra) -> dict:
    env = {
        "APP_ENV": "development",
        "SECRET_KEY": "test-secret-key-0123456789",
        "ADMIN_API_TOKEN": API_TOKEN,
        "INSTANCE_PATH": str(instance),
        "GENERATION_MODE": "offline",
        "REPLICATE_POLL_INTERVAL": "0.02",
    }
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


@pytest.fixture
def redis_client():
    client = redis_lib.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def replicate_server():
    from tests.replicate_server import ReplicateServer

    server = ReplicateServer(token=REPLICATE_TOKEN, seed=1234).start()
    # Replicate's account limits, on in every test: 600 creates and 3,000 other calls a minute, bursts of 20
    server.create_limit_per_minute, server.read_limit_per_minute = 600, 3000
    yield server
    server.stop()


TABLES = (
    "comparison_votes",
    "comparison_cells",
    "comparison_variants",
    "comparisons",
    "job_items",
    "gallery_examples",
    "preset_model_usage",
    "jobs",
    "presets",
    "sessions",
    "users",
    "api_tokens",
    "audit_events",
    "spend_entries",
    "spend_months",
)


def empty_tables(conn) -> None:
    """Remove every row a test may have left, children first. DELETE rather than TRUNCATE: on a test's few rows
    it takes ~2 ms where TRUNCATE takes ~120 ms (it gives each table new files)."""
    for table in reversed(db.metadata.sorted_tables):
        if table.name in TABLES:
            conn.execute(table.delete())


@pytest.fixture
def make_app(tmp_path, pg_database, redis_client, request):
    """Build an app: database 'postgres' (default) or 'sqlite';
    queue 'redis' (default), 'embedded' or a redis:// URL."""
    apps = []

    def factory(database: str = "postgres", queue: str = "redis", replicate=None, **env):
        instance = tmp_path / f"instance-{len(apps)}"
        if "://" in database:  # e.g. PostgreSQL through a proxy the test can cut
            database_url = database
        elif database == "postgres":
            database_url = pg_database
        else:
            database_url = f"sqlite:///{instance / 'test.sqlite3'}"
        extra = dict(
            DATABASE_URL=database_url,
            REDIS_URL=None if queue == "embedded" else (queue if queue.startswith("redis://") else REDIS_TEST_URL),
            **env,
        )
        if replicate is not None:
            extra.update(
                GENERATION_MODE="replicate", REPLICATE_API_TOKEN=REPLICATE_TOKEN, REPLICATE_BASE_URL=replicate.url
            )
        env = base_env(instance, **extra)
        app = create_app(load_settings(env), {"TESTING": True, "TEST_ENV": env}, enqueue=enqueue_job)
        with app.app_context():
            if database == "postgres":
                with db.engine.begin() as conn:
                    empty_tables(conn)
                provider_rows.restore_seed()  # the seed's four, as a test that added or refreshed one found them
                db.session.commit()
            else:
                instance.mkdir(parents=True, exist_ok=True)
                upgrade(database_url, instance)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def immediate_huey():
    """Run queued tasks inline, in the caller's thread (Huey's immediate mode)."""
    huey.immediate = True
    yield huey
    huey.immediate = False


def auth_headers(**extra) -> dict:
    return {"Authorization": f"Bearer {API_TOKEN}", **extra}


def create_preset(client, name="Professional Headshot", provider="NANO_BANANA", settings=None, prompt=None) -> dict:
    response = client.post(
        "/api/admin/presets",
        json={
            "name": name,
            "prompt": prompt or f"{name} portrait, studio light",
            "provider": provider,
            "settings": settings or {},
        },
        headers=auth_headers(),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def post_generate(client, preset_id: str, body: dict | None = None, **headers):
    """POST the JSON API's generate-examples as a Bearer caller; `body` defaults to one example per model."""
    return client.post(
        f"/api/admin/presets/{preset_id}/generate-examples",
        json={"examplesPerModel": 1} if body is None else body,
        headers=auth_headers(**headers),
    )


FINAL_STATUSES = ("succeeded", "partial", "failed", "canceled")


def wait_for_job(app, job_id: str, statuses=FINAL_STATUSES, timeout: float = 120.0):
    """Poll the job row until its status is one of `statuses`; returns the (detached) Job."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            job = db.session.get(Job, job_id)
            if job is not None and job.status in statuses:
                db.session.expunge(job)
                return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not reach {statuses} within {timeout} s")


ADMIN_EMAIL = "curator@example.com"
ADMIN_PASSWORD = "correct horse battery"


# 1/32 of werkzeug's scrypt cost (n = 2**15): a test admin's sign-in checks the password in ~3 ms, not ~100 ms
TEST_HASH_METHOD = "scrypt:1024:8:1"


@functools.cache
def quick_password_hash(password: str) -> str:
    return generate_password_hash(password, method=TEST_HASH_METHOD)


def create_admin(app, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD, product_cost: bool = False) -> str:
    """An admin account, made as `users create` makes it (`product_cost`), or else with the same password hashed
    at the test cost: the tests that compare sign-in work and time ask for the product's."""
    from app.accounts.users import check_password_rules, create_user, normalise_email
    from tests import factories

    if not product_cost:
        check_password_rules(password, normalise_email(email))
        return factories.user(app, normalise_email(email), quick_password_hash(password))
    with app.app_context():
        user = create_user(email, password)
        db.session.commit()
        return user.id


def csrf_token_of(html: str) -> str:
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> str:
    """Sign in through the login form; returns a CSRF token valid for the new session."""
    token = csrf_token_of(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)
    return csrf_token_of(client.get("/admin/presets").get_data(as_text=True))


@pytest.fixture
def admin_app(make_app):
    """An app (PostgreSQL + Redis) with one admin account."""
    app = make_app()
    create_admin(app)
    return app


@pytest.fixture
def admin_client(admin_app):
    """A test client signed in as the admin; `.csrf` holds the session's CSRF token."""
    client = admin_app.test_client()
    client.csrf = sign_in(client)
    return client


from tests.moto_s3 import moto_s3  # noqa: E402,F401 (the S3 tests' moto server, a session fixture)

# What the fast tier (`make test-fast`, the `fast` marker) must not touch: it runs with them unreachable.
SERVICE_FIXTURES = frozenset({"pg_database", "redis_client", "replicate_server", "moto_s3", "browser", "page"})


def pytest_collection_modifyitems(items):
    """A test marked fast that asks for a service is a mistake in the marking, refused before anything runs."""
    for item in items:
        used = SERVICE_FIXTURES & set(getattr(item, "fixturenames", ()))
        if used and item.get_closest_marker("fast"):
            raise pytest.UsageError(f"{item.nodeid} is marked fast but needs {', '.join(sorted(used))}")
