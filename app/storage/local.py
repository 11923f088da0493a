"""Our own copy of every generated image.

Replicate deletes API outputs after about an hour, so each output is streamed into
the media folder the moment it arrives. Writes go to a temporary file and are renamed
into place, so a crash never leaves a half-written image under a real name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from app.core.files import private_dir
from app.storage.base import checked_key


class MediaStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    url_origin = None  # served from our own origin (`/media/...`)

    def path_for(self, key: str) -> Path:
        return self.root / checked_key(key)

    def save_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """Write chunks to `key` atomically; return the number of bytes written."""
        target = self.path_for(key)
        private_dir(target.parent)  # 0700 folders; mkstemp makes the file 0600
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    size += len(chunk)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        return size

    def save_bytes(self, key: str, data: bytes) -> int:
        return self.save_stream(key, [data])

    def delete_tree(self, prefix: str) -> None:
        shutil.rmtree(self.path_for(prefix), ignore_errors=True)

    def read_bytes(self, key: str) -> bytes:
        return self.path_for(key).read_bytes()

    def exists(self, key: str) -> bool:
        """Asked for each card's reference thumbnail on every page: a string join and one stat, no Path."""
        return os.path.isfile(os.path.join(self.root, checked_key(key)))

    def delete(self, key: str) -> None:
        try:
            self.path_for(key).unlink()
        except FileNotFoundError:
            pass

    def url(self, key: str) -> str:
        """Served by the web side's media route, behind the admin sign-in."""
        return f"/media/{key}"

    def short_url(self, key: str) -> str:
        """The same admin-only link: the gallery feed signs its own (`web.feed.links`)."""
        return self.url(key)
