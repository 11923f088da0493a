"""Which deleted files a process still holds open: the mark of a SQLite file whose locks were dropped."""

import os
from pathlib import Path


def deleted_files_held(folder: Path, pid: int | str = "self") -> list[str]:
    """Files under `folder` that process `pid` holds open although they were deleted."""
    held = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith(str(folder)) and target.endswith("(deleted)"):
            held.append(target)
    return held
