"""The embedded store's database, for a first run without Redis: one SQLite file in instance/ (0600),
shared by the web process and the consumers, one connection per thread, write-ahead log for readers."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ..private_files import private_file


class EmbeddedDb:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()

    def connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            private_file(self.path)  # 0600 in a 0700 folder; SQLite gives its -wal/-shm the same mode
            conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn
