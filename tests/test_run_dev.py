"""`make run` (scripts/run_dev.py) keeps the request log quiet, so the sign-in it prints does not scroll away."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import load_run_dev

pytestmark = pytest.mark.fast

run_dev = load_run_dev()


@pytest.mark.parametrize(
    ("line", "quiet"),
    [
        ('127.0.0.1 - - [06/Dec/2026 18:28:22] "GET /admin/presets HTTP/1.1" 200 -', True),
        ('127.0.0.1 - - [06/Dec/2026 18:28:22] "\x1b[36mGET /static/a.css HTTP/1.1\x1b[0m" 304 -', True),
        ('127.0.0.1 - - [06/Dec/2026 18:28:22] "\x1b[33mGET /nope HTTP/1.1\x1b[0m" 404 -', False),
        ('127.0.0.1 - - [06/Dec/2026 18:28:22] "\x1b[35m\x1b[1mPOST /x HTTP/1.1\x1b[0m" 500 -', False),
        ("Traceback (most recent call last):", False),
    ],
)
def test_only_requests_that_went_wrong_are_logged(line, quiet):
    assert bool(run_dev.QUIET_REQUEST.search(line)) is quiet


def test_only_a_run_against_replicate_tries_to_download_the_reference_photos(tmp_path):
    """Offline (no token) nothing is downloaded; a token, from the environment or the .env file, means online."""
    env_file = tmp_path / ".env"
    env_file.write_text("")
    base = {"INSTANCE_PATH": str(tmp_path / "instance"), "ENV_FILE": str(env_file)}
    assert run_dev.online_instance(dict(base)) is None
    assert run_dev.online_instance({**base, "REPLICATE_API_TOKEN": "a-test-token"}) == tmp_path / "instance"
    env_file.write_text("REPLICATE_API_TOKEN=a-test-token\n")
    assert run_dev.online_instance(dict(base)) == tmp_path / "instance"
    assert run_dev.online_instance({**base, "GENERATION_MODE": "offline"}) is None
    assert run_dev.online_instance({**base, "ENV_FILE": str(tmp_path / "missing")}) is None  # the admin says why


@pytest.mark.parametrize(
    ("output", "code", "said"),
    [
        ("male_01 cached\n72 models: 72 cached now, 0 already cached, 0 failed.\n", 0, "done: 72 models: 72 cached"),
        ("72 models: 0 cached now, 0 already cached, 72 failed.\nError: 72 of 72 photos\n", 1, "not all cached: 72 m"),
    ],
)
def test_the_background_cache_reports_its_outcome_when_it_ends(tmp_path, capsys, output, code, said):
    log_path = tmp_path / run_dev.CACHE_LOG
    with open(log_path, "wb") as log:
        script = f"import sys; sys.stdout.write({output!r}); sys.exit({code})"
        process = subprocess.Popen([sys.executable, "-c", script], stdout=log)
    run_dev.report_when_cached(process, log_path)
    assert f"Reference photos {said}" in capsys.readouterr().out
