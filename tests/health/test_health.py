"""Health: /healthz (the process answers, nothing else touched), /readyz (each dependency, named, 503 while
one is down, no secret in the answer), `flask doctor` (the same plus the Replicate token, the webhook secret,
live consumers and the oldest queued job, each with its fix; exit 1 on any failure), and `generate --wait`
saying when no consumer takes the job.

Nothing shared is stopped: each part is broken for one app only (a closed port, a bad URL, a media folder
that cannot exist, a models.json in a temporary folder)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from flask_migrate import upgrade as migrate_upgrade
from sqlalchemy import event, update

from app import create_app
from app.cli.generate import PICKUP_NOTICE_SECONDS, generate
from app.core.config import load_settings
from app.core.database import db
from app.health.checks import redact
from app.models import Job, utcnow
from app.services import CONSUMER_COMMAND
from app.tasks import enqueue_job
from tests.conftest import API_TOKEN, REDIS_TEST_URL, base_env, create_admin, create_preset, post_generate, sign_in
from tests.helpers import PROJECT, free_port

READINESS = ["database", "migrations", "progress store", "redis", "registry", "storage"]
DB_PASSWORD, REDIS_PASSWORD = "db-pass-6f1c2a", "redis-pass-93be7d"


def beat(app) -> None:
    """A live consumer, as its heartbeat shows it (the doctor reads heartbeats, not processes)."""
    app.extensions["pixelglow"].progress.beat("test-consumer", ttl=30)


@pytest.fixture
def built(tmp_path):
    """Apps built from settings alone (no database needs to exist), disposed of afterwards."""
    apps = []

    def build(**env):
        instance = tmp_path / f"built-{len(apps)}"
        app = create_app(load_settings(base_env(instance, **env)), {"TESTING": True}, enqueue=enqueue_job)
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# -- /healthz -------------------------------------------------------------------------------------------


def test_healthz_answers_without_sign_in_or_the_database(make_app, built):
    app = make_app()
    create_admin(app)
    client = app.test_client()
    sign_in(client)  # a session cookie rides along: still no database
    statements = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    for _ in range(30):  # no rate limit either
        answer = client.get("/healthz")
        assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}
    assert answer.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in answer.headers
    assert statements == []
    client.get("/admin/presets")
    assert statements, "the listener sees the queries a page makes"

    down = built(DATABASE_URL=f"postgresql://pixel:{DB_PASSWORD}@127.0.0.1:{free_port()}/pixel")
    assert down.test_client().get("/healthz").status_code == 200


# -- /readyz --------------------------------------------------------------------------------------------


def test_readyz_when_everything_is_up(make_app):
    app = make_app()
    answer = app.test_client().get("/readyz")
    body = answer.get_json()
    assert answer.status_code == 200, body
    assert body["ready"] is True and body["down"] == []
    assert list(body["checks"]) == READINESS and all(c["ok"] for c in body["checks"].values())
    assert body["checks"]["database"]["detail"] == "reachable (postgresql)"
    assert body["checks"]["migrations"]["detail"].startswith("at head (")
    assert body["checks"]["registry"]["detail"] == "72 models (36 male + 36 female)"
    assert body["checks"]["progress store"]["detail"] == "in Redis (see the redis check)"
    assert body["checks"]["storage"]["detail"] == "writable"
    assert not list((Path(app.extensions["pixelglow"].settings.media_dir) / "health").iterdir()), "probe left"
    assert API_TOKEN not in answer.get_data(as_text=True)


def database_down(make_app, built, tmp_path):
    return built(
        DATABASE_URL=f"postgresql://pixel:{DB_PASSWORD}@127.0.0.1:{free_port()}/pixel", REDIS_URL=REDIS_TEST_URL
    )


def migrations_behind(make_app, built, tmp_path):
    database = tmp_path / "behind.sqlite3"
    app = built(DATABASE_URL=f"sqlite:///{database}", REDIS_URL=REDIS_TEST_URL)
    with app.app_context():
        migrate_upgrade(revision="0006")
    return app


def redis_down(make_app, built, tmp_path):
    return make_app(queue=f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0")


def storage_unwritable(make_app, built, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("media cannot be created below a file (and chmod does not stop root)")
    return make_app(MEDIA_DIR=str(blocker / "media"))


def registry_broken(make_app, built, tmp_path):
    models = tmp_path / "models.json"
    models.write_text((PROJECT / "models.json").read_text())
    app = make_app(MODELS_FILE=str(models))
    models.write_text('{"male": [}')  # broken after the start: the last good registry stays in use
    return app


BROKEN = {  # what breaks → (readyz's down, the doctor's failures besides, a phrase of the detail)
    "database": (database_down, ["database", "migrations"], ["oldest queued job"], "unreachable"),
    "migrations": (migrations_behind, ["migrations"], [], "behind: the database is at 0006, the code needs"),
    "redis": (redis_down, ["redis"], ["consumers"], "unreachable"),
    "storage": (storage_unwritable, ["storage"], [], "not writable"),
    "registry": (
        registry_broken,
        ["registry"],
        [],
        "models.json: not valid JSON (line 1, column 11: Expecting value); "
        "the last good registry (72 models) is in use",
    ),
}
FIXES = {
    "database": "fix: start the database, or correct DATABASE_URL",
    "migrations": "fix: run `flask --app wsgi db upgrade`",
    "redis": "fix: start Redis, or correct REDIS_URL",
    "storage": "fix: make MEDIA_DIR a folder this process can write",
    "registry": "fix: fix models.json (`flask --app wsgi models check` lists every problem)",
}


@pytest.mark.parametrize("part", list(BROKEN))
def test_readyz_and_doctor_name_the_part_that_is_down(part, make_app, built, tmp_path):
    breaks, down, also_failing, detail = BROKEN[part]
    app = breaks(make_app, built, tmp_path)
    if part != "redis":
        beat(app)  # a consumer is alive: only what the test broke fails

    answer = app.test_client().get("/readyz")
    body = answer.get_json()
    assert answer.status_code == 503 and body["ready"] is False
    assert body["down"] == down, body
    assert detail in body["checks"][part]["detail"]
    assert [name for name, check in body["checks"].items() if check["ok"]] == [n for n in READINESS if n not in down]
    text = answer.get_data(as_text=True)
    for secret in (DB_PASSWORD, REDIS_PASSWORD, API_TOKEN, "postgresql://", "redis://", str(tmp_path)):
        assert secret not in text

    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1, result.output
    failed = down + also_failing
    assert result.output.strip().endswith(f"{len(failed)} of 10 checks failed: {', '.join(failed)}"), result.output
    lines = result.output.splitlines()
    failing = next(i for i, line in enumerate(lines) if line.startswith(f"FAIL  {part} "))
    assert detail in lines[failing] and FIXES[part] in "\n".join(lines[failing + 1 : failing + 3])
    assert DB_PASSWORD not in result.output and REDIS_PASSWORD not in result.output
    assert "Background on this error" not in result.output  # the driver's message, not SQLAlchemy's wrapping


def test_redact_removes_passwords_and_secrets(make_app):
    settings = load_settings(
        base_env(
            Path("/tmp/unused"),
            DATABASE_URL=f"postgresql://pixel:{DB_PASSWORD}@db.internal/pixel",
            REDIS_URL=f"redis://:{REDIS_PASSWORD}@cache:6379/0",
        )
    )
    message = f"cannot reach redis://:{REDIS_PASSWORD}@cache:6379/0 nor postgresql://pixel:{DB_PASSWORD}@db.internal"
    cleaned = redact(message + f" (password {DB_PASSWORD}, token {API_TOKEN})", settings)
    assert cleaned == (
        "cannot reach redis://:***@cache:6379/0 nor postgresql://pixel:***@db.internal (password ***, token ***)"
    )


# -- doctor: what running a job needs -------------------------------------------------------------------


def test_doctor_passes_when_all_is_well_with_one_authenticated_read(make_app, replicate_server):
    app = make_app(replicate=replicate_server)
    beat(app)
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert "ok    replicate token    accepted (account pixelglow-tests)" in result.output
    assert "ok    webhook secret     not needed: webhooks are off" in result.output
    assert "ok    consumers          1 alive (test-consumer)" in result.output
    assert "ok    oldest queued job  no job is waiting" in result.output
    assert result.output.strip().endswith("All 10 checks passed.")
    calls = [(call.kind, call.endpoint) for call in replicate_server.calls]
    assert calls == [("read", "account.get")], calls  # one call, counted against the read limit


def test_doctor_names_a_refused_token_and_an_unreadable_webhook_secret(make_app, replicate_server):
    app = make_app(replicate=replicate_server, PUBLIC_BASE_URL="https://admin.example.com")
    beat(app)
    replicate_server.token = "r8_another_account"  # ours is refused from now on
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "FAIL  replicate token    refused by Replicate (401 Unauthenticated)" in result.output
    assert "fix: set REPLICATE_API_TOKEN to a token from https://replicate.com/account/api-tokens" in result.output
    assert "FAIL  webhook secret     cannot be read from Replicate" in result.output
    assert "fix: set REPLICATE_WEBHOOK_SECRET (Replicate: account settings, webhooks), or fix the token" in (
        result.output
    )
    assert result.output.strip().endswith("2 of 10 checks failed: replicate token, webhook secret")
    assert "r8_test_token_not_real" not in result.output

    replicate_server.token = app.config["TEST_ENV"]["REPLICATE_API_TOKEN"]
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert "ok    webhook secret     read from Replicate" in result.output


def test_doctor_says_no_consumer_is_alive_and_a_job_has_waited_too_long(make_app):
    app = make_app()
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None  # queued, never taken
    client = app.test_client()
    job_id = post_generate(client, create_preset(client)["id"]).get_json()["jobId"]

    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "FAIL  consumers          none alive: queued jobs wait until one starts" in result.output
    assert f"fix: start one: {CONSUMER_COMMAND}" in result.output
    assert f"ok    oldest queued job  job {job_id} has waited 0 s" in result.output

    with app.app_context():
        db.session.execute(update(Job).where(Job.id == job_id).values(created_at=utcnow() - timedelta(minutes=10)))
        db.session.commit()
    beat(app)
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    assert f"FAIL  oldest queued job  job {job_id} has waited 600 s" in result.output
    assert "fix: no consumer takes jobs: start one (huey_consumer app.tasks.huey -w 4 -k thread)" in result.output
    assert result.output.strip().endswith("1 of 10 checks failed: oldest queued job")


# -- generate --wait without a consumer -----------------------------------------------------------------


def test_generate_wait_says_when_no_consumer_took_the_job_and_keeps_waiting(make_app):
    app = make_app()
    create_preset(app.test_client(), name="Nobody Home")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["generate", "Nobody Home", "--wait", "--notice-after", "0.5", "--timeout", "2"])
    assert result.exit_code == 1
    assert result.output.count("No consumer has picked up job") == 1
    assert ": no consumer is running. Start one from the project folder, with the same environment: " in result.output
    assert CONSUMER_COMMAND in result.output and "Still waiting (Ctrl-C stops waiting" in result.output
    assert "did not finish within 2 s; it goes on in the background" in result.output  # waited on after the notice

    beat(app)
    create_preset(app.test_client(), name="Busy Home")
    result = runner.invoke(args=["generate", "Busy Home", "--wait", "--notice-after", "0.5", "--timeout", "1"])
    assert "1 consumer(s) alive, busy with jobs queued before it" in result.output
    assert {p.name: p.default for p in generate.params}["notice_after"] == PICKUP_NOTICE_SECONDS == 10


def test_generate_wait_gives_the_notice_within_ten_seconds_by_default(make_app, tmp_path):
    app = make_app()
    create_preset(app.test_client(), name="Default Notice")
    env = {**os.environ, **app.config["TEST_ENV"], "PYTHONPATH": str(PROJECT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "generate", "Default Notice", "--wait"]
        + ["--timeout", "12"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: dict[str, float] = {}

    def watch(stream, marker: str):
        for line in stream:
            if marker in line and marker not in seen:
                seen[marker] = time.monotonic()

    readers = [
        threading.Thread(target=watch, args=(process.stdout, "20 images"), daemon=True),
        threading.Thread(target=watch, args=(process.stderr, "No consumer has picked up job"), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        assert process.wait(timeout=40) == 1
    finally:
        if process.poll() is None:
            process.kill()
    for reader in readers:
        reader.join(timeout=5)
    assert set(seen) == {"20 images", "No consumer has picked up job"}, seen
    assert 9.5 <= seen["No consumer has picked up job"] - seen["20 images"] <= 10.9, seen
