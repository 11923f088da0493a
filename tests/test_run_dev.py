"""`make run` (scripts/run_dev.py) keeps the request log quiet, so the sign-in it prints does not scroll away."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

SPEC = importlib.util.spec_from_file_location("run_dev", Path(__file__).parents[1] / "scripts" / "run_dev.py")
assert SPEC and SPEC.loader
run_dev = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(run_dev)


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
