"""Benchmarks: run only when asked for (`make bench`); pyproject's norecursedirs keeps them out of `make test`.

They reuse tests/conftest.py's fixtures (PostgreSQL database, `make_app`) and tests/live_stack.py's real
`huey_consumer` processes on a Redis database of this process's own.
"""

from __future__ import annotations

import pytest

from tests.benchmarks.helpers import Stack
from tests.live_stack import isolated_queue


@pytest.fixture
def stack(make_app, tmp_path):
    with isolated_queue() as url:
        bench = Stack(make_app, url, tmp_path)
        try:
            yield bench
        finally:
            bench.close()
