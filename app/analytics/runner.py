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

from app.analytics.queries import Query
from app.core.database import db

MAX_CONNECTIONS = 5  # one a statement of a report, besides the request's own: the pool holds 10 (+ 20 overflow)


def dialect() -> str:
    return db.engine.dialect.name


def fetch(engine: Engine, query: Query) -> Any:
    """The query's figures, from a connection of its own; its rows become figures here too, while the
    other statements still run."""
    with engine.connect() as connection:
        return query.read(connection.execute(query.statement).all())


def run(queries: Mapping[str, Query]) -> dict[str, Any]:
    """{name: the query's figures}."""
    if dialect() != "postgresql":
        return {name: query.read(db.session.execute(query.statement).all()) for name, query in queries.items()}
    engine = db.engine
    with ThreadPoolExecutor(max_workers=MAX_CONNECTIONS, thread_name_prefix="analytics") as pool:
        futures = {name: pool.submit(fetch, engine, query) for name, query in queries.items()}
        return {name: future.result() for name, future in futures.items()}
