"""The embedded store's database, for a first run without Redis: one SQLite file in instance/ (0600) holding live
progress, consumer heartbeats, webhook completions and API-call counts, shared by the web process, the consumer
and CLI commands.

SQLite's locks are POSIX advisory locks, and those belong to the process: closing *any* descriptor of the file
drops every lock the process holds on it, after which another process may checkpoint and delete the write-ahead
log this one is still using (https://sqlite.org/howtocorrupt.html, 2.2). So only SQLite ever opens the file (its
mode is set when it is created, never by reopening it), and each process keeps one handle, shared by all its
users and threads: `embedded_db(path)`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.core.files import create_private_file

STORE_FILE = "progress.sqlite3"  # in the instance folder
BUSY_TIMEOUT = 30.0  # seconds a write waits for another process's write
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS progress (key TEXT PRIMARY KEY, value TEXT, expires REAL, finished REAL)",
    "CREATE TABLE IF NOT EXISTS hooks (key TEXT PRIMARY KEY, value TEXT, expires REAL)",
    "CREATE TABLE IF NOT EXISTS api_usage (kind TEXT, bucket INTEGER, n INTEGER, PRIMARY KEY (kind, bucket))",
    "CREATE TABLE IF NOT EXISTS probe (at REAL)",  # what the health check writes
)


class StoreDamaged(sqlite3.DatabaseError):
    """The store's file cannot be used: what is wrong, which file, and what to do."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path, self.problem = path, problem
        self.fix = (
            f"stop the web admin and every consumer, delete {path} and its -wal and -shm files (they hold only live "
            "progress; jobs and examples are kept in the database), and start them again"
        )
        super().__init__(f"The embedded progress store {path} is damaged ({problem}): {self.fix}.")


class EmbeddedDb:
    """One connection to the store's file for this process, used by one thread at a time."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The process's connection, held by this thread until the block ends (a transaction fits inside)."""
        with self._lock:
            if self._conn is None or self._pid != os.getpid():  # a forked child opens its own
                self._conn, self._pid = self._open(), os.getpid()
            yield self._conn

    def _open(self) -> sqlite3.Connection:
        create_private_file(self.path)  # 0600 when new; SQLite gives its -wal/-shm the same mode
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            for statement in SCHEMA:
                conn.execute(statement)
        except BaseException:
            conn.close()
            raise
        return conn

    def execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """One statement in its own transaction; its rows."""
        with self.connection() as conn:
            return conn.execute(sql, parameters).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Statements that commit together, the write lock taken up front."""
        with self.connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def check(self) -> None:
        """Raise StoreDamaged unless the file reads back whole and takes a write.

        The connection's page cache is emptied first, so the check reads what is on disk now, not what this
        process read before."""
        try:
            with self.transaction() as conn:
                conn.execute("PRAGMA shrink_memory")
                problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
                conn.execute("DELETE FROM probe")
                conn.execute("INSERT INTO probe VALUES (julianday('now'))")
        except sqlite3.Error as exc:
            raise StoreDamaged(self.path, str(exc)) from exc
        if problems != ["ok"]:
            raise StoreDamaged(self.path, "; ".join(problems[:3]))


def store_path(instance_path: Path) -> Path:
    return Path(instance_path) / STORE_FILE


_handles: dict[Path, EmbeddedDb] = {}
_handles_lock = threading.Lock()


def embedded_db(path: Path) -> EmbeddedDb:
    """This process's handle on the store at `path`, shared by the progress store, webhooks and API usage."""
    key = Path(path).resolve()
    with _handles_lock:
        if key not in _handles:
            _handles[key] = EmbeddedDb(key)
        return _handles[key]
