"""Large and odd answers a test turns on: outputs inline as ``data:`` URIs, outputs of any size or body, and
long logs.

Replicate may answer an output inline as a ``data:<type>;base64,…`` URI instead of a replicate.delivery URL
(in sync mode, for some models), and a prediction's JSON carries its logs, as long as the model printed them. So
a prediction's JSON can be as large as its output or its logs make it. The hooks (plain attributes, reset with the
server; each called with the model and the input at create, None for "as usual"):

* ``data_uri_when(model, input) -> bool``: the outputs come inline as ``data:`` URIs.
* ``output_bytes_when(model, input) -> int | None``: the output's size (the image padded, still valid), instead
  of ``output_bytes``.
* ``output_body_when(model, input) -> (content_type, bytes) | None``: the output's body and the type it is
  served (or declared, inline) as, instead of the rendered image (an HTML error page, say).
* ``logs_bytes_when(model, input) -> int | None``: the logs padded to that many characters once it runs.

Nothing large is built in memory: a prediction's JSON holds a marker where each inline output and padded log
goes, and the reply streams them with an exact Content-Length.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tests.replicate_server.images import CONTENT_TYPES, PIECE, padded_body, render_image
from tests.replicate_server.plumbing import Handler
from tests.replicate_server.state import Prediction

MARK = re.compile(r"\\u0000(DATA|LOGS):([a-z0-9]+):(\d+)\\u0000")  # a marker as json.dumps writes it
LOG_LINE = b"step: still running, nothing to report" + b" " * 25  # 63 characters that need no JSON escape


def marker(kind: str, pid: str, index: int) -> str:
    return f"\x00{kind}:{pid}:{index}\x00"


def base64_pieces(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The pieces base64-encoded as one stream (each piece re-cut at a multiple of 3 bytes)."""
    rest = b""
    for piece in pieces:
        rest += piece
        cut = len(rest) // 3 * 3
        if cut:
            yield base64.b64encode(rest[:cut])
            rest = rest[cut:]
    if rest:
        yield base64.b64encode(rest)


def log_pieces(length: int) -> Iterator[bytes]:
    block = (LOG_LINE * (PIECE // len(LOG_LINE) + 1))[:PIECE]
    while length > 0:
        yield block[: min(length, PIECE)]
        length -= PIECE


class Inline:
    """The hooks above, the output bodies they make, and the streamed replies."""

    _lock: threading.RLock
    _preds: dict[str, Prediction]
    _images: dict
    output_bytes: int

    def _reset_inline(self) -> None:
        self.data_uri_when: Callable[[str, dict], bool] | None = None
        self.output_bytes_when: Callable[[str, dict], int | None] | None = None
        self.output_body_when: Callable[[str, dict], tuple[str, bytes] | None] | None = None
        self.logs_bytes_when: Callable[[str, dict], int | None] | None = None

    def _inline_fields(self, model: str, inp: dict) -> dict[str, Any]:
        """What the hooks say of a new prediction (called outside the lock, like ``fail_when``)."""
        return {
            "inline": bool(self.data_uri_when(model, inp)) if self.data_uri_when else False,
            "output_size": self.output_bytes_when(model, inp) if self.output_bytes_when else None,
            "output_body": self.output_body_when(model, inp) if self.output_body_when else None,
            "logs_size": self.logs_bytes_when(model, inp) if self.logs_bytes_when else None,
        }

    def _output_body(self, rec: Prediction, index: int) -> tuple[str, int, Iterable[bytes]]:
        """(content type, length, pieces) of one output: the hook's body, or the image padded to its size."""
        if rec.output_body is not None:
            content_type, body = rec.output_body
            return content_type, len(body), [body]
        with self._lock:
            image = self._images.get((rec.id, index))
            target = rec.output_size if rec.output_size is not None else self.output_bytes
        if image is None:
            image = render_image(rec.id, index, rec.model, rec.input, rec.fmt)
            with self._lock:
                if len(self._images) > 4096:
                    self._images.clear()
                self._images[(rec.id, index)] = image
        total, pieces = padded_body(image, rec.fmt, target)
        return CONTENT_TYPES.get(rec.fmt, "application/octet-stream"), total, pieces

    def _expanded(self, text: str) -> tuple[int, Iterator[bytes]]:
        """(length, pieces) of a JSON text with its markers replaced by what they stand for."""
        parts: list[tuple[int, Iterable[bytes]]] = []
        at = 0
        for found in MARK.finditer(text):
            literal = text[at : found.start()].encode()
            parts.append((len(literal), [literal]))
            kind, pid, index = found.group(1), found.group(2), int(found.group(3))
            rec = self._preds[pid]
            if kind == "LOGS":
                parts.append((rec.logs_size, log_pieces(rec.logs_size)))
            else:
                content_type, size, pieces = self._output_body(rec, index)
                head = f"data:{content_type};base64,".encode()
                parts.append((len(head) + 4 * -(-size // 3), [head, *base64_pieces(pieces)]))
            at = found.end()
        tail = text[at:].encode()
        parts.append((len(tail), [tail]))
        return sum(n for n, _ in parts), (piece for _, pieces in parts for piece in pieces)

    def _expanded_text(self, payload: Any) -> str:
        """The whole JSON text (for a webhook's signed body)."""
        return b"".join(self._expanded(json.dumps(payload))[1]).decode()

    def _reply_json(self, h: Handler, status: int, payload: Any) -> None:
        """Reply with a prediction's (or a page's) JSON, its inline outputs and padded logs streamed in."""
        text = json.dumps(payload)
        if "\\u0000" not in text:
            return h.reply_bytes(status, text.encode(), "application/json")
        total, pieces = self._expanded(text)
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(total))
        h.end_headers()
        buffered = b""
        try:
            for piece in pieces:
                buffered += piece
                if len(buffered) >= PIECE:
                    h.wfile.write(buffered)
                    buffered = b""
            h.wfile.write(buffered)
        except OSError:  # the client stopped reading (a capped one does): it is not the server's error
            h.close_connection = True
        return None
