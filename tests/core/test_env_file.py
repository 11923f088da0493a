"""`.env`: the flask CLI, gunicorn and the consumer each read it (the environment wins), and production refuses
one that others can open. The entry points are run as the real programs; ENV_FILE points them at a file of the
test's own instead of the checkout's `.env`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.core.config import ConfigError
from app.core.env_file import PROJECT_ROOT, load_env_file
from tests.conftest import REDIS_TEST_URL, REPLICATE_TOKEN, base_env, create_preset, post_generate, wait_for_job
from tests.helpers import PROJECT, flask_cli
from tests.live_stack import Consumer, isolated_queue

BIN = Path(sys.executable).parent


def env_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "dotenv"
    path.write_text(text)
    path.chmod(mode)
    return path


# -- the loader ---------------------------------------------------------------------------------------------


@pytest.mark.fast
def test_the_file_adds_what_the_environment_does_not_set(tmp_path):
    path = env_file(tmp_path, "# secrets\nREPLICATE_API_TOKEN=r8_from_file\nPORT=6000\nQUOTED='a b'\n")
    environ = {"ENV_FILE": str(path), "PORT": "7000"}
    assert load_env_file(environ) == path
    assert environ["REPLICATE_API_TOKEN"] == "r8_from_file"
    assert environ["PORT"] == "7000", "a variable already set wins over the file"
    assert environ["QUOTED"] == "a b"


@pytest.mark.fast
def test_the_default_file_is_the_project_roots(monkeypatch, tmp_path):
    environ: dict[str, str] = {}
    expected = PROJECT_ROOT / ".env"
    assert load_env_file(environ) == (expected if expected.is_file() else None)
    assert PROJECT_ROOT == PROJECT


@pytest.mark.fast
def test_a_named_file_that_is_missing_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="ENV_FILE names .*missing.env, which is not a file"):
        load_env_file({"ENV_FILE": str(tmp_path / "missing.env")})


@pytest.mark.fast
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_production_refuses_a_file_others_can_open(tmp_path, mode):
    path = env_file(tmp_path, "REPLICATE_API_TOKEN=r8_x\n", mode)
    environ = {"ENV_FILE": str(path), "APP_ENV": "production"}
    with pytest.raises(ConfigError, match=rf"others can open it \(mode {mode:o}\).*chmod 600 {path}"):
        load_env_file(environ)
    assert "REPLICATE_API_TOKEN" not in environ, "nothing is read from a refused file"


@pytest.mark.fast
def test_production_named_in_the_file_itself_counts_and_600_is_accepted(tmp_path):
    path = env_file(tmp_path, "APP_ENV=production\nSECRET_KEY=x\n", 0o644)
    with pytest.raises(ConfigError, match="production refuses it"):
        load_env_file({"ENV_FILE": str(path)})
    path.chmod(0o600)
    environ = {"ENV_FILE": str(path)}
    load_env_file(environ)
    assert environ["APP_ENV"] == "production"


@pytest.mark.fast
def test_development_reads_a_file_others_can_open(tmp_path):
    environ = {"ENV_FILE": str(env_file(tmp_path, "SECRET_KEY=dev\n", 0o644))}
    load_env_file(environ)
    assert environ["SECRET_KEY"] == "dev"


# -- the entry points ---------------------------------------------------------------------------------------


def program_env(tmp_path: Path, **extra: str) -> dict:
    """A subprocess's environment with no REPLICATE_API_TOKEN: only the .env file can give it."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(PROJECT), **base_env(tmp_path / "inst")}
    env.update(extra)
    return env


def test_flask_cli_reads_the_token_from_the_env_file(tmp_path, pg_database, replicate_server):
    env = program_env(tmp_path, DATABASE_URL=pg_database, REDIS_URL=REDIS_TEST_URL)
    env.update(GENERATION_MODE="replicate", REPLICATE_BASE_URL=replicate_server.url)
    without = flask_cli(env, "doctor", timeout=60)
    assert without.returncode == 4 and "REPLICATE_API_TOKEN must be set" in without.stderr, without

    env["ENV_FILE"] = str(env_file(tmp_path, f"REPLICATE_API_TOKEN={REPLICATE_TOKEN}\n"))
    result = flask_cli(env, "doctor", timeout=60)
    assert "accepted (account" in result.stdout, result  # GET /v1/account with the file's token


def start_gunicorn(env: dict) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, f"http://127.0.0.1:{port}"


def test_gunicorn_reads_the_token_from_the_env_file(tmp_path, pg_database, replicate_server):
    env = program_env(tmp_path, DATABASE_URL=pg_database, REDIS_URL=REDIS_TEST_URL, GENERATION_MODE="replicate")
    refused, _ = start_gunicorn(env)
    _, stderr = refused.communicate(timeout=30)
    assert refused.returncode == 4 and "REPLICATE_API_TOKEN must be set" in stderr, stderr

    env["ENV_FILE"] = str(env_file(tmp_path, f"REPLICATE_API_TOKEN={REPLICATE_TOKEN}\n"))
    process, url = start_gunicorn(env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("gunicorn did not answer /healthz")
    finally:
        process.terminate()
        process.communicate(timeout=15)


def test_gunicorn_in_production_refuses_an_env_file_others_can_read(tmp_path):
    env = program_env(tmp_path, APP_ENV="production")
    env["ENV_FILE"] = str(env_file(tmp_path, "SECRET_KEY=" + "s" * 32 + "\n", 0o644))
    process, _ = start_gunicorn(env)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 4, stderr
    assert stderr.count("others can open it (mode 644)") == 1 and "Traceback" not in stderr


def test_the_consumer_reads_the_token_from_the_env_file(make_app, replicate_server, tmp_path):
    with isolated_queue() as url:
        app = make_app(queue=url, replicate=replicate_server)
        env = {k: v for k, v in app.config["TEST_ENV"].items() if k != "REPLICATE_API_TOKEN"}
        env["ENV_FILE"] = str(env_file(tmp_path, f"REPLICATE_API_TOKEN={REPLICATE_TOKEN}\n"))
        consumer = Consumer(env, tmp_path / "consumer.log", workers=2)
        try:
            consumer.start(app.extensions["pixelglow"].progress)
            client = app.test_client()
            job_id = post_generate(client, create_preset(client)["id"]).get_json()["jobId"]
            job = wait_for_job(app, job_id, timeout=120)
        finally:
            consumer.stop()
    assert job.status == "succeeded", (job.error, consumer.log_tail())
    assert len(replicate_server.creates) == 20  # each create was let in with the file's token
