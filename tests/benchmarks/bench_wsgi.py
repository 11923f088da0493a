"""Gunicorn entry point for benchmark 4: the real app (`wsgi:app`) plus `/admin/bench-ping` (see ping.py)."""

from tests.benchmarks.ping import add_ping
from wsgi import app

add_ping(app)
