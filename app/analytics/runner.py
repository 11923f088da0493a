"""Runs a report's queries. On PostgreSQL the statements run at once, each on its own pooled connection:
one statement runs on one core, these are independent aggregates over different tables, and together they
are most of the page's time (benchmark 10). Each statement sees what was committed when it started, as it
did one after the other in one transaction at READ COMMITTED. SQLite runs them one after the other in the
request's session: its connections take the write lock at BEGIN (`database.py`), so they would only queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.sql import Executable

from ..database import db
from .queries import Query

MAX_CONNECTIONS = 4  # of the pool's 10 (+ 20 overflow), besides the request's own; the benchmark machine has 2 cores


def dialect() -> str:
    return db.engine.dialect.name


def fetch(engine: Engine, statement: Executable) -> list:
    with engine.connect() as connection:
        return list(connection.execute(statement))


def run(queries: Mapping[str, Query]) -> dict[str, Any]:
    """{name: the query's figures}."""
    if dialect() != "postgresql":
        return {name: query.read(db.session.execute(query.statement).all()) for name, query in queries.items()}
    engine = db.engine
    with ThreadPoolExecutor(max_workers=MAX_CONNECTIONS, thread_name_prefix="analytics") as pool:
        futures = {name: pool.submit(fetch, engine, query.statement) for name, query in queries.items()}
        return {name: queries[name].read(future.result()) for name, future in futures.items()}
