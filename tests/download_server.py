"""Local HTTP(S) servers and test data for the downloader's tests: images, a routed server, a resolver with fixed
answers, and a TLS certificate for a made-up name."""

from __future__ import annotations

import io
import socket
import ssl
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from app.providers.download.downloader import SafeDownloader
from tests.helpers import self_signed_certificate

MB = 1024 * 1024


# -- test data ----------------------------------------------------------------------


def image_bytes(fmt: str, size=(48, 32)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 60))
    for x in range(size[0]):
        image.putpixel((x, x % size[1]), (x * 5 % 256, 90, 255))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A valid-looking, tiny PNG whose header claims width x height (1-bit grey)."""
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


PNG = image_bytes("PNG", (640, 480))
JPEG = image_bytes("JPEG", (640, 480))
WEBP = image_bytes("WEBP")
GIF = image_bytes("GIF")
HTML = b"<!DOCTYPE html>\n<html><head><title>Admin</title></head><body>secret</body></html>\n"


# -- servers --------------------------------------------------------------------------


class Server:
    """A ThreadingHTTPServer whose routes are plain functions of the handler."""

    def __init__(self, routes: dict, tls: ssl.SSLContext | None = None):
        self.routes = routes
        self.requests: list[tuple[str, dict]] = []
        self.sent: dict[str, int] = {}
        self.finished: dict[str, threading.Event] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?", 1)[0]
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(path)
                try:
                    if route is None:
                        self.send_error(404)
                    else:
                        route(self)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass  # the client hung up, as it should on refused bodies
                finally:
                    server.finished.setdefault(path, threading.Event()).set()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.origin = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.origin + path

    def wait_finished(self, path: str, timeout: float = 5.0) -> bool:
        return self.finished.setdefault(path, threading.Event()).wait(timeout)

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def reset(self) -> Server:
        self.requests.clear()
        self.sent.clear()
        self.finished.clear()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def body(data: bytes, content_type: str = "image/png", status: int = 200, headers: dict | None = None):
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    return route


def redirect(location: str, status: int = 302, headers: dict | None = None):
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()

    return route


def lazy_stream(server_ref: list, path: str, total: int, content_length: bool):
    """`total` bytes starting like a PNG, generated 64 KiB at a time, never held in memory."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        server = server_ref[0]
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        if content_length:
            handler.send_header("Content-Length", str(total))
        handler.end_headers()
        chunk = b"\0" * (64 * 1024)
        sent = 0
        server.sent[path] = 0
        first = b"\x89PNG\r\n\x1a\n" + chunk[8:]
        while sent < total:
            piece = first if sent == 0 else chunk
            handler.wfile.write(piece)
            sent += len(piece)
            server.sent[path] = sent

    return route


def slow_drip(handler: BaseHTTPRequestHandler) -> None:
    """A few bytes every 50 ms: each read is quick, the whole never ends."""
    import time

    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.end_headers()
    handler.wfile.write(PNG[:600])
    for _ in range(200):
        time.sleep(0.05)
        handler.wfile.write(b"\0" * 16)
        handler.wfile.flush()


def short_body(handler: BaseHTTPRequestHandler) -> None:
    """Promises 4000 bytes, sends 1000 and hangs up: a connection cut mid-transfer."""
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.send_header("Content-Length", "4000")
    handler.end_headers()
    handler.wfile.write(PNG[:1000])


class FakeDNS:
    """A resolver with fixed answers; unknown names fail like NXDOMAIN."""

    def __init__(self, answers: dict[str, list[str]]):
        self.answers = answers
        self.queries: list[str] = []

    def __call__(self, host, port, *args, **kwargs):
        self.queries.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = self.answers[host]
        addresses = answer.pop(0) if answer and isinstance(answer[0], list) else answer
        result = []
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            result.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return result


class LoopbackIsPublic(SafeDownloader):
    """Treats 127.0.0.1 as a public address so a local TLS server can stand for a CDN."""

    def _address_refusal(self, ip):
        return None if str(ip) == "127.0.0.1" else super()._address_refusal(ip)


@pytest.fixture(scope="module")
def certificate():
    with self_signed_certificate("DNS:cdn.test") as pair:
        yield pair
