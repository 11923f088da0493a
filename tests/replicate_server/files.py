"""GET/HEAD /files/{id}/out-{n}.{fmt}: the outputs (replicate.delivery in reality), which are not API calls."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable

from tests.replicate_server.images import PIECE
from tests.replicate_server.plumbing import Handler
from tests.replicate_server.state import Prediction, state_at

_FILE_RE = re.compile(r"^/files/([a-z0-9]+)/out-(\d+)\.([a-z]+)$")


def _refuse(h: Handler, code: int) -> None:
    if code == 404:
        return h.reply_bytes(404, b"Not Found\n", "text/plain; charset=utf-8")
    return h.reply_bytes(503, b"Service Unavailable\n", "text/plain; charset=utf-8", {"Retry-After": "1"})


class Files:
    """Serving outputs: rendered once, padded to ``output_bytes``, counted in ``downloads``."""

    _lock: threading.RLock

    def _servable(self, rec: Prediction | None, m: re.Match | None, now: float) -> bool:
        """Whether the path names an output of a succeeded prediction that has not expired. Under the lock."""
        return (
            rec is not None
            and m is not None
            and state_at(rec, now)[0] == "succeeded"
            and int(m.group(2)) < rec.n_outputs
            and m.group(3) == rec.fmt
            and not self._is_expired(rec, now)
        )

    def _download(self, h: Handler, path: str, head: bool) -> None:
        m = _FILE_RE.match(path)
        now = time.monotonic()
        with self._lock:
            rec = self._preds.get(m.group(1)) if m else None
            index = int(m.group(2)) if m else 0
            code = self._download_status(self._servable(rec, m, now))
            if code != 200:
                self.download_failures += 1
        if code != 200:
            return _refuse(h, code)
        content_type, total, pieces = self._output_body(rec, index)  # the image, or a hook's (inline.py)
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(total))
        h.send_header("Cache-Control", "public, max-age=3600")
        h.end_headers()
        if head:
            return None
        # Count before the last byte goes out, so a client that has its body sees the count.
        with self._lock:
            self.downloads += 1
            if rec.first_download is None:
                rec.first_download = now
        return self._write_body(h, pieces)

    def _write_body(self, h: Handler, pieces: Iterable[bytes]) -> None:
        try:
            buf = b""
            for piece in pieces:  # coalesce small pieces, stream big bodies in ~64 KB writes
                buf += piece
                if len(buf) >= PIECE:
                    h.wfile.write(buf)
                    buf = b""
            if buf:
                h.wfile.write(buf)
        except OSError:
            with self._lock:
                self.downloads -= 1
                self.download_failures += 1
            raise
