"""Error reporting: SENTRY_DSN turns sentry-sdk on for requests and tasks; events carry no secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from uuid import uuid4

import pytest
from sqlalchemy.engine import make_url

from app.core.config import ConfigError, load_settings
from app.core.error_reporting import FILTERED, Scrubber, configured_secrets, release, start_error_reporting
from app.tasks import generate_examples, huey
from tests.conftest import REDIS_TEST_URL, base_env
from tests.helpers import PRODUCTION, PROJECT, wait_until
from tests.live_stack import Consumer, isolated_queue
from tests.sentry_probe import PASSWORD, SESSION_ID
from tests.sentry_server import SentryServer

TOKEN = "r8_test_probe_token_not_real"  # not a real key: the configured token the events must never hold


@pytest.mark.fast
def test_without_a_dsn_nothing_starts(tmp_path):
    assert start_error_reporting(load_settings({"INSTANCE_PATH": str(tmp_path)})) is False


@pytest.mark.fast
def test_a_malformed_dsn_is_a_start_up_error(tmp_path):
    with pytest.raises(ConfigError, match="SENTRY_DSN must be a DSN"):
        load_settings({"INSTANCE_PATH": str(tmp_path), "SENTRY_DSN": "sentry.example.com"})


@pytest.mark.fast
def test_release_and_environment_default_to_the_package_and_app_env(tmp_path):
    settings = load_settings({**PRODUCTION, "INSTANCE_PATH": str(tmp_path), "SENTRY_DSN": "https://k@o1.ingest.x/5"})
    assert settings.sentry_environment == "production"
    assert release(settings) == "pixelglow-admin@0.1.0"
    named = load_settings({**PRODUCTION, "INSTANCE_PATH": str(tmp_path), "SENTRY_RELEASE": "abc123"})
    assert release(named) == "abc123"


@pytest.mark.fast
def test_the_scrubber_blanks_secret_keys_values_and_shapes(tmp_path):
    environ = {**PRODUCTION, "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "postgresql://app:dbpass99@db/x"}
    settings = load_settings(environ)
    scrub = Scrubber(configured_secrets(settings))
    event = {
        "message": f"boom with {PRODUCTION['REPLICATE_API_TOKEN']} and dbpass99",
        "request": {"headers": [["Authorization", "Bearer abc"], ["Accept", "text/html"]], "cookies": "session=x"},
        "extra": {"password": "hunter2", "note": "Token deadbeefcafe r8_somethingelse1234 whsec_QUJD"},
        "frames": [{"vars": {"session_id": "s-1", "secret_key": PRODUCTION["SECRET_KEY"], "n": 3}}],
    }
    cleaned = scrub(event, {})
    text = json.dumps(cleaned)
    for secret in (PRODUCTION["REPLICATE_API_TOKEN"], "dbpass99", "hunter2", "abc", "s-1", "deadbeefcafe", "QUJD"):
        assert secret not in text, secret
    assert PRODUCTION["SECRET_KEY"] not in text and "r8_somethingelse1234" not in text
    assert cleaned["request"]["headers"] == [["Authorization", FILTERED], ["Accept", "text/html"]]
    assert cleaned["frames"][0]["vars"]["n"] == 3


def test_an_exception_in_a_request_and_in_a_task_each_arrive_once_without_secrets(tmp_path, pg_database):
    sentry = SentryServer()
    (tmp_path / "empty.env").write_text("")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(PROJECT),
        **base_env(tmp_path / "inst", DATABASE_URL=pg_database, REDIS_URL=REDIS_TEST_URL),
        "GENERATION_MODE": "replicate",
        "REPLICATE_API_TOKEN": TOKEN,
        "METRICS_TOKEN": "metrics-token-never-in-events",
        "SENTRY_DSN": sentry.dsn,
        "SENTRY_ENVIRONMENT": "probe",
        "ENV_FILE": str(tmp_path / "empty.env"),  # not a developer's .env
    }
    try:
        probe = subprocess.run(
            [sys.executable, "-m", "tests.sentry_probe"],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert probe.returncode == 0 and "request status 500" in probe.stdout, probe
        events = sentry.events()
    finally:
        sentry.close()

    kinds = sorted(event["exception"]["values"][-1]["type"] for event in events)
    assert kinds == ["RuntimeError", "ValueError"], kinds  # each exactly once
    request_event = next(e for e in events if e["exception"]["values"][-1]["type"] == "RuntimeError")
    task_event = next(e for e in events if e["exception"]["values"][-1]["type"] == "ValueError")
    assert request_event["request"]["url"].endswith("/probe/explode")
    assert task_event["extra"]["huey-job"]["task"] == "generate_examples"
    for event in events:
        assert event["environment"] == "probe" and event["release"] == "pixelglow-admin@0.1.0"
    everything = "\n".join(sentry.envelopes)
    for secret in (TOKEN, PASSWORD, SESSION_ID, env["ADMIN_API_TOKEN"], env["SECRET_KEY"], env["METRICS_TOKEN"]):
        at = everything.find(secret)
        assert at < 0, f"{secret[:6]}… reached the error report: {everything[at - 300 : at + 50]!r}"
    assert "Replicate said no to" in everything and FILTERED in everything  # the message arrived, blanked


def test_a_task_failing_in_a_real_consumer_arrives_once_without_the_database_password(make_app, tmp_path):
    """`huey_consumer app.tasks.huey` with SENTRY_DSN, and a database that is not there: the task's exception
    arrives once (Huey's own log line of it is the same exception), and the URL's password never does."""
    sentry = SentryServer()
    (tmp_path / "empty.env").write_text("")
    password = "dbpass-probe-7731"
    with isolated_queue() as url:
        app = make_app(queue=url)
        env = dict(app.config["TEST_ENV"])
        missing = make_url(env["DATABASE_URL"]).set(password=password, database=f"pixelglow_missing_{uuid4().hex[:8]}")
        env.update(
            DATABASE_URL=missing.render_as_string(hide_password=False),
            SENTRY_DSN=sentry.dsn,
            SENTRY_ENVIRONMENT="probe",
            ENV_FILE=str(tmp_path / "empty.env"),
        )
        consumer = Consumer(env, tmp_path / "consumer.log", workers=1)
        try:
            consumer.start(app.extensions["pixelglow"].progress)
            task = generate_examples.s("0" * 32)
            task.retries = 1  # an attempt with a retry left: it raises, and Huey schedules the retry
            huey.enqueue(task)
            wait_until(sentry.events, timeout=60)
            time.sleep(2)  # time for a second copy to arrive, if one were sent
            events = sentry.events()
        finally:
            consumer.stop()
            sentry.close()
    # the task's exception once; the consumer's sweep for lost jobs, which cannot reach the database either,
    # is reported apart (its own log line)
    task_events = [e for e in events if "huey-job" in e.get("extra", {})]
    assert len(task_events) == 1, [(e.get("logger"), e["exception"]["values"][-1]["mechanism"]) for e in events]
    (event,) = task_events
    assert event["exception"]["values"][-1]["type"] == "OperationalError", consumer.log_tail()
    assert event["extra"]["huey-job"]["task"] == "generate_examples" and event["environment"] == "probe"
    assert all(e.get("logger") == "app.tasks" for e in events if e is not event), events
    everything = "\n".join(sentry.envelopes)
    for secret in (password, env["ADMIN_API_TOKEN"], env["SECRET_KEY"]):
        assert secret not in everything, f"{secret[:6]}… reached the error report"
