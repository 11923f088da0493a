"""Error reporting: SENTRY_DSN turns sentry-sdk on for requests and tasks; events carry no secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.config import ConfigError, load_settings
from app.core.error_reporting import FILTERED, Scrubber, configured_secrets, release, start_error_reporting
from tests.conftest import REDIS_TEST_URL, base_env
from tests.helpers import PRODUCTION
from tests.sentry_probe import PASSWORD, SESSION_ID
from tests.sentry_server import SentryServer

ROOT = Path(__file__).resolve().parent.parent
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
        "PYTHONPATH": str(ROOT),
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
            [sys.executable, "-m", "tests.sentry_probe"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90
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
