"""Files and folders only this user can read: instance/ holds secrets, password hashes and the queue."""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> Path:
    """A folder only this user can enter (0700): instance/ holds secrets and password hashes.

    Missing parents are made 0700 too (`mkdir(parents=True)` would make them with the umask's default)."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
    path = missing[0] if missing else path
    try:
        os.chmod(path, 0o700)
    except PermissionError:  # not ours (e.g. a shared mount): leave it as it is
        pass
    return path


def create_private_file(path: Path) -> Path:
    """Create `path` readable by this user only (0600) if it does not exist yet, in a 0700 folder.

    An existing file is never opened: for a SQLite database, closing any descriptor of the file drops every lock
    this process holds on it (POSIX advisory locks belong to the process), which lets another process delete
    the write-ahead log in use and corrupts the database. Its mode was set when it was created."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    return path
