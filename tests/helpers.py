"""Helpers more than one test module uses, written once here (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import socket
import time
import urllib.error
import urllib.request

from sqlalchemy import event

from app.core.database import db


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


def htmx(client, **extra) -> dict:
    """The headers htmx sends, with the signed-in test client's CSRF token."""
    return {"HX-Request": "true", "X-CSRFToken": client.csrf, **extra}
