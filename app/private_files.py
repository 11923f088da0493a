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


def private_file(path: Path) -> Path:
    """Create `path` (if missing) readable by this user only (0600), e.g. the SQLite database."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    try:
        os.chmod(path, 0o600)
    except PermissionError:
        pass
    return path
