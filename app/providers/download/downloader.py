"""Fetching a model's output image from a URL we do not control, safely.

The output URL of a prediction comes from a third party, so it is treated as hostile:

* Only ``https`` URLs are fetched, plus one configured origin (the local
  Replicate-compatible server in tests; unset in production). Anything else — other
  schemes, malformed URLs, credentials in the URL — is refused before any connection.
* The host of the first URL and of every redirect target is resolved once and every
  address is checked: loopback, private, link-local, multicast, reserved, unspecified
  and addresses embedding such an IPv4 address (IPv4-mapped, 6to4, NAT64) are refused.
  Redirects are followed by hand so that each hop goes through the same checks.
* The connection then goes to the address that was checked (the request URL carries
  the IP; the Host header and the TLS SNI / certificate check keep the name), so a DNS
  answer that changes between the check and the connect (DNS rebinding) cannot steer
  us to an internal address. Proxies from the environment are not used for the same
  reason.
* No cookies, no auth, no connection reuse between downloads: each hop gets a fresh
  transport and nothing is remembered.
* The body is capped (``max_bytes``, counted while streaming; a larger Content-Length
  is refused before reading) and only an identity-encoded body is accepted (no gzip
  bombs). It goes to a temporary file, never to memory as a whole.
* The bytes must be a PNG, JPEG or WebP image that Pillow opens, verifies and decodes,
  within ``max_pixels`` (no decompression bombs). The detected format decides the file
  extension; the URL's extension is ignored.

Every failure is one of two exceptions, so one bad output fails one model only:
``DownloadRefused`` (permanent: do not retry) and ``DownloadFailed`` (transient: the
caller may retry). This module and the checks it uses (``addresses``, ``urls``, ``images``,
``download_errors``) import only the standard library, httpx, Pillow and the process's image threads
(``storage.image_threads``), on which every decode runs.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.providers.download import DownloadError, DownloadFailed, DownloadRefused
from app.providers.download.addresses import IPAddress, Resolver, address_refusal, ip_literal, resolve
from app.providers.download.bodies import check_response_headers, make_temp_file, remove_quietly, stream_body
from app.providers.download.data_uri import decode_into, is_data_uri, media_type, shown
from app.providers.download.images import FORMATS, inspect_image
from app.providers.download.urls import DEFAULT_PORTS, check_url, is_allowed_origin, parse_allowed_origin
from app.providers.download.urls import MAX_URL_LENGTH as MAX_URL_LENGTH  # re-exported: callers import it from here
from app.storage.image_threads import on_image_thread

MAX_OUTPUT_BYTES = 25 * 1024 * 1024
"""Default for the ``MAX_OUTPUT_BYTES`` setting: the largest output we copy."""

MAX_OUTPUT_PIXELS = 32 * 1024 * 1024
"""Largest image (width x height) we accept; also bounds the memory a decode check takes."""

CHUNK_SIZE = 64 * 1024
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# 404: Replicate can briefly serve a 404 before the file lands. The others say "later".
RETRYABLE_STATUSES = frozenset({404, 408, 425, 429})


@dataclass
class Downloaded:
    """A verified image in a temporary file that the caller copies into storage.

    Use it as a context manager (or call ``discard()``) so the temporary file is
    removed whatever happens to the copy.
    """

    path: Path
    format: str  # "png", "jpeg" or "webp", detected from the bytes
    extension: str  # "png", "jpg" or "webp"
    content_type: str  # MIME type of the detected format
    size: int  # bytes
    width: int
    height: int
    url: str  # the final URL, after redirects
    server_content_type: str | None = None  # what the server claimed, for logs

    def chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The file's bytes, for ``MediaStorage.save_stream(key, image.chunks())``."""
        with open(self.path, "rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def discard(self) -> None:
        remove_quietly(self.path)

    def __enter__(self) -> Downloaded:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()


class SafeDownloader:
    """Downloads one output image per call, refusing anything unsafe (see module doc).

    One instance can be shared by threads: it holds only settings and the TLS context. The
    decode check runs on the process's image threads, which bound how many run at once (memory).

    `allowed_origin` ("http://127.0.0.1:8787") is the one origin (scheme, host, port,
    exact) fetched without the https and public-address rules — the test server. It
    is trusted configuration, so it is connected to by name.
    `resolver` has the signature of ``socket.getaddrinfo``; tests inject their own.
    `ssl_context` replaces the default (certifi) trust store, e.g. for a test CA.
    """

    def __init__(
        self,
        allowed_origin: str | None = None,
        max_bytes: int = MAX_OUTPUT_BYTES,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        total_timeout: float = 120.0,
        max_redirects: int = 5,
        max_pixels: int = MAX_OUTPUT_PIXELS,
        resolver: Resolver = socket.getaddrinfo,
        temp_dir: str | os.PathLike | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.allowed_origin = parse_allowed_origin(allowed_origin)
        self.max_bytes = int(max_bytes)
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.total_timeout = float(total_timeout)
        self.max_redirects = int(max_redirects)
        self.max_pixels = int(max_pixels)
        self.resolver = resolver
        self.temp_dir = None if temp_dir is None else Path(temp_dir)
        # Built once: loading the CA bundle per download would cost more than the check.
        self.ssl_context = ssl_context if ssl_context is not None else httpx.create_ssl_context()

    # -- public -------------------------------------------------------------------

    def download(self, url: str) -> Downloaded:
        """Fetch `url` (or decode it, a `data:` URI) into a verified temporary image file.

        Raises DownloadRefused (do not retry) or DownloadFailed (may retry); no other
        exception escapes.
        """
        try:
            return self._decode(url) if is_data_uri(url) else self._download(url)
        except DownloadError:
            raise
        except httpx.InvalidURL as exc:
            raise DownloadRefused(f"invalid URL: {exc}") from exc
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            raise DownloadRefused(f"cannot make this request: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise DownloadFailed(f"timed out: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise DownloadFailed(f"network error: {type(exc).__name__}: {exc}") from exc
        except OSError as exc:
            raise DownloadFailed(f"I/O error: {exc}") from exc
        except Exception as exc:  # a bug or an unforeseen library error: fail this item only
            raise DownloadFailed(f"unexpected error: {type(exc).__name__}: {exc}") from exc

    # -- the steps ----------------------------------------------------------------

    def _download(self, url: str) -> Downloaded:
        deadline = time.monotonic() + self.total_timeout
        current = self._check_url(url)
        for _hop in range(self.max_redirects + 1):
            response, transport = self._open(current, deadline)
            try:
                status = response.status_code
                if status in REDIRECT_STATUSES:
                    location = response.headers.get("location")
                    if not location:
                        raise DownloadRefused(f"HTTP {status} redirect without a Location")
                    current = self._check_url(location, base=current)
                    continue
                if status == 200:
                    return self._receive(response, current, deadline)
                if status in RETRYABLE_STATUSES or status >= 500:
                    raise DownloadFailed(f"HTTP {status}")
                raise DownloadRefused(f"HTTP {status}")
            finally:
                response.close()
                transport.close()
        raise DownloadRefused(f"more than {self.max_redirects} redirects")

    def _decode(self, uri: str) -> Downloaded:
        """An output inline as a `data:` URI, decoded under the same cap and checks (see data_uri)."""
        media, start = media_type(uri)
        fd, path = make_temp_file(self.temp_dir)
        try:
            size, head = decode_into(uri, start, media, fd, self.max_bytes)
            return self._verified(path, size, head, shown(uri), media)
        except BaseException:
            remove_quietly(path)
            raise

    def _check_url(self, raw: Any, base: httpx.URL | None = None) -> httpx.URL:
        """Parse and vet one URL (the first or a redirect target); return it without fragment."""
        return check_url(raw, base, self.allowed_origin)

    def _is_allowed_origin(self, url: httpx.URL) -> bool:
        return is_allowed_origin(url, self.allowed_origin)

    def _addresses(self, url: httpx.URL) -> list[str]:
        """Every address `url`'s host resolves to, all vetted; refuse if any is not public."""
        host = url.raw_host.decode("ascii")
        literal = ip_literal(host)
        if literal is not None:
            candidates = [literal]
        else:
            candidates = resolve(host, url.port or DEFAULT_PORTS[url.scheme], self.resolver)
        addresses: list[str] = []
        for ip in candidates:
            reason = self._address_refusal(ip)
            if reason:
                where = f"{host} resolves to {ip}," if literal is None else f"{ip} is"
                raise DownloadRefused(f"{where} {reason}: refusing to connect")
            if str(ip) not in addresses:
                addresses.append(str(ip))
        return addresses

    def _address_refusal(self, ip: IPAddress) -> str | None:
        """Hook for tests that need a "public" server on 127.0.0.1; see address_refusal."""
        return address_refusal(ip)

    def _open(self, url: httpx.URL, deadline: float) -> tuple[httpx.Response, httpx.HTTPTransport]:
        """Send the GET for one hop; return the streaming response and its transport.

        Off the allowed origin, connect to the vetted addresses in turn (never to a
        fresh DNS answer): the request URL holds the IP, the Host header and the TLS
        server name keep the host name, so the certificate is still checked for it.
        """
        if self._is_allowed_origin(url):
            targets: list[str | None] = [None]
        else:
            targets = list(self._addresses(url))
        last_error: Exception | None = None
        for ip in targets:
            if time.monotonic() > deadline:
                break
            # A fresh transport per hop: no pooled connection made for another host
            # name, no cookies, no proxies from the environment, no retries of its own.
            transport = httpx.HTTPTransport(verify=self.ssl_context, retries=0)
            try:
                return transport.handle_request(self._request(url, ip)), transport
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                transport.close()
                last_error = exc
            except BaseException:
                transport.close()
                raise
        host = url.raw_host.decode("ascii")
        if last_error is None:
            raise DownloadFailed(f"took longer than {self.total_timeout:g} s")
        raise DownloadFailed(f"cannot connect to {host}: {last_error}") from last_error

    def _request(self, url: httpx.URL, ip: str | None) -> httpx.Request:
        extensions: dict[str, Any] = {"timeout": self.timeout.as_dict()}
        headers = {
            "Host": url.netloc.decode("ascii"),
            "User-Agent": "pixelglow-output-downloader",
            "Accept": "image/png, image/jpeg, image/webp",
            "Accept-Encoding": "identity",
        }
        target = url
        if ip is not None:
            target = url.copy_with(host=ip)
            if ip_literal(url.raw_host.decode("ascii")) is None:
                extensions["sni_hostname"] = url.raw_host.decode("ascii")
        return httpx.Request("GET", target, headers=headers, extensions=extensions)

    def _receive(self, response: httpx.Response, url: httpx.URL, deadline: float) -> Downloaded:
        """Stream the body into a temporary file under the caps, then verify it."""
        check_response_headers(response, self.max_bytes)
        server_type = response.headers.get("content-type")
        fd, path = make_temp_file(self.temp_dir)
        try:
            size, head = stream_body(
                response, fd, server_type, max_bytes=self.max_bytes, deadline=deadline, total_timeout=self.total_timeout
            )
            return self._verified(path, size, head, str(url), server_type)
        except BaseException:
            remove_quietly(path)
            raise

    def _verified(self, path: Path, size: int, head: bytes, url: str, server_type: str | None) -> Downloaded:
        """The file as a Downloaded image once Pillow verified it (DownloadRefused otherwise)."""
        image_format, width, height = self._inspect(path, head, server_type)
        name, extension, mime = FORMATS[image_format]
        return Downloaded(path, name, extension, mime, size, width, height, url, server_type)

    def _inspect(self, path: Path, head: bytes, server_type: str | None) -> tuple[str, int, int]:
        """Verify and decode the file (see images.inspect_image) on an image thread (memory)."""
        return on_image_thread(inspect_image, path, head, server_type, self.max_pixels)
