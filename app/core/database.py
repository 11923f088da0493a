"""The database handle every layer shares, created unbound here and bound to the app in the factory.

The pipeline and the domain reach the session through `db.session` (a scoped session bound to the
app context the Huey task or the request set up); nothing here imports Flask itself.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any, cast

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import CursorResult, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

# The tables derive from `Model`: at run time Flask-SQLAlchemy's `db.Model` (Base plus its query helpers and
# table names), for the type checker Base itself, whose declarative typing it understands.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


def upsert(entity: Any, session: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of `entity` that takes ON CONFLICT clauses, in the dialect of the database `session` (a session
    or `db.session`) writes to: PostgreSQL in production, SQLite on a first run."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return insert(entity)


def rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (`Session.execute` is typed as returning a plain Result)."""
    return cast(CursorResult, result).rowcount


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """SQLite: enforce foreign keys (cascades), wait for locks, and let SQLAlchemy issue BEGIN itself."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Any) -> None:
    """SQLite: every transaction takes the write lock up front (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes fails at once with "database is
    locked" when another connection wrote in between (the busy timeout does not apply to
    that upgrade), and SQLite ignores SELECT … FOR UPDATE, which model selection relies on.
    SQLite is the first-run default; transactions here are short, so serialising them costs little.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
