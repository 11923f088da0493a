"""HTTP plumbing: the threading server that can drop its connections, the request handler, prepared replies."""

from __future__ import annotations

import json
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class NotJSON(ValueError):
    pass


def refuse_constant(name: str) -> Any:
    raise NotJSON(name)


class Reply(Exception):
    """Raised inside request handling to answer with a prepared response."""

    def __init__(
        self, status: int, body: dict, headers: dict | None = None, content_type: str = "application/problem+json"
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.content_type = content_type


def problem(status: int, title: str, detail: str, **extra: Any) -> Reply:
    return Reply(status, {"title": title, "detail": detail, "status": status, **extra})


def not_found() -> Reply:
    return problem(404, "Not found", "The requested resource could not be found.")


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, owner: Any) -> None:
        self.owner = owner
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
            return
        self.owner._record_error(traceback.format_exc())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "replicate-fake/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120
    server: HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence access log
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def reply_bytes(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply(self, status: int, obj: Any, content_type: str = "application/json", headers: dict | None = None) -> None:
        self.reply_bytes(status, json.dumps(obj).encode(), content_type, headers)

    def end_headers(self) -> None:
        self._headers_done = True
        super().end_headers()

    def _dispatch(self, method: str) -> None:
        owner = self.server.owner
        self._headers_done = False
        try:
            raw = self._read_body()
            try:
                owner.handle(self, method, raw)
            except Reply as r:
                self.reply(r.status, r.body, r.content_type, r.headers)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:  # noqa: BLE001 - report as a 500 and keep serving
            owner._record_error(traceback.format_exc())
            self.close_connection = True
            if not self._headers_done:
                try:
                    self.reply(
                        500,
                        {
                            "title": "Internal Server Error",
                            "detail": "fake server error (see server_errors)",
                            "status": 500,
                        },
                        "application/problem+json",
                    )
                except OSError:
                    pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")
