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
caller may retry). This module imports only the standard library, httpx and Pillow.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

MAX_OUTPUT_BYTES = 25 * 1024 * 1024
"""Default for the ``MAX_OUTPUT_BYTES`` setting: the largest output we copy."""

MAX_OUTPUT_PIXELS = 32 * 1024 * 1024
"""Largest image (width x height) we accept; also bounds the memory a decode check takes."""

MAX_URL_LENGTH = 4096
CHUNK_SIZE = 64 * 1024
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# 404: Replicate can briefly serve a 404 before the file lands. The others say "later".
RETRYABLE_STATUSES = frozenset({404, 408, 425, 429})

# Pillow format name -> (our format name, file extension, MIME type)
FORMATS = {
    "PNG": ("png", "png", "image/png"),
    "JPEG": ("jpeg", "jpg", "image/jpeg"),
    "WEBP": ("webp", "webp", "image/webp"),
}

_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}

Resolver = Callable[..., Any]


class DownloadError(Exception):
    """Base of the two outcomes below; the message is a human-readable reason."""


class DownloadRefused(DownloadError):
    """A permanent problem with this output (bad URL, forbidden address, not an image,
    too large...): retrying will not help."""


class DownloadFailed(DownloadError):
    """A transient problem (network error, timeout, 5xx, 404 before the file appears):
    the caller may retry."""


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
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> Downloaded:
        return self

    def __exit__(self, *exc_info) -> None:
        self.discard()


def address_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why we will not connect to `ip`, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        reason = _ipv6_refusal(ip)
        if reason:
            return reason
    return _range_refusal(ip)


_REFUSED_RANGES = (
    ("is_unspecified", "an unspecified address"),
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_private", "a private address"),
    ("is_reserved", "a reserved address"),
)
"""(ipaddress attribute, reason) pairs, checked in order so the most specific reason wins."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), which must be vetted too."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _ipv6_refusal(ip: ipaddress.IPv6Address) -> str | None:
    """IPv6-only reasons: tunnels that can reach an internal IPv4 address, site-local."""
    embedded = _embedded_ipv4(ip)
    if embedded is None and ip.teredo is not None:
        return "a Teredo address"
    if embedded is not None:
        reason = address_refusal(embedded)
        if reason:
            return f"{reason} (embedded in {ip})"
    if ip.is_site_local:
        return "a site-local address"
    return None


def _range_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Reasons shared by both families: any special-purpose or non-global range."""
    for attribute, label in _REFUSED_RANGES:
        if getattr(ip, attribute):
            return label
    if not ip.is_global:
        return "not a globally routable address"
    return None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.raw_host.decode("ascii").lower(), url.port or _DEFAULT_PORTS.get(url.scheme))


class SafeDownloader:
    """Downloads one output image per call, refusing anything unsafe (see module doc).

    One instance can be shared by threads: it holds only settings, the TLS context and
    a semaphore that bounds how many full decodes run at once (memory).

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
        max_parallel_decodes: int = 2,
    ):
        self.allowed_origin = self._parse_allowed_origin(allowed_origin)
        self.max_bytes = int(max_bytes)
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.total_timeout = float(total_timeout)
        self.max_redirects = int(max_redirects)
        self.max_pixels = int(max_pixels)
        self.resolver = resolver
        self.temp_dir = None if temp_dir is None else Path(temp_dir)
        # Built once: loading the CA bundle per download would cost more than the check.
        self.ssl_context = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        self._decode_slots = threading.BoundedSemaphore(max(1, max_parallel_decodes))

    # -- public -------------------------------------------------------------------

    def download(self, url: str) -> Downloaded:
        """Fetch `url` into a verified temporary image file.

        Raises DownloadRefused (do not retry) or DownloadFailed (may retry); no other
        exception escapes.
        """
        try:
            return self._download(url)
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

    def _check_url(self, raw: Any, base: httpx.URL | None = None) -> httpx.URL:
        """Parse and vet one URL (the first or a redirect target); return it without fragment."""
        shown = _shown_url(raw)
        url, host, port = _parse_url(raw, base, shown)
        _check_url_parts(url, host, port, shown)
        url = url.copy_with(fragment=None)
        if self._is_allowed_origin(url):
            return url
        if url.scheme != "https":
            raise DownloadRefused(f"plain http is allowed only from the configured origin: {shown!r}")
        _check_host_name(host)
        return url

    def _is_allowed_origin(self, url: httpx.URL) -> bool:
        return self.allowed_origin is not None and _origin(url) == self.allowed_origin

    def _addresses(self, url: httpx.URL) -> list[str]:
        """Every address `url`'s host resolves to, all vetted; refuse if any is not public."""
        host = url.raw_host.decode("ascii")
        literal = _ip_literal(host)
        if literal is not None:
            candidates = [literal]
        else:
            port = url.port or _DEFAULT_PORTS[url.scheme]
            try:
                infos = self.resolver(host, port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError) as exc:
                raise DownloadFailed(f"cannot resolve {host}: {exc}") from exc
            candidates = []
            for info in infos:
                try:
                    candidates.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
                except (ValueError, IndexError, TypeError) as exc:
                    raise DownloadRefused(f"{host} resolves to an unusable address {info!r}") from exc
            if not candidates:
                raise DownloadFailed(f"{host} resolves to no address")
        addresses: list[str] = []
        for ip in candidates:
            reason = self._address_refusal(ip)
            if reason:
                where = f"{host} resolves to {ip}," if literal is None else f"{ip} is"
                raise DownloadRefused(f"{where} {reason}: refusing to connect")
            if str(ip) not in addresses:
                addresses.append(str(ip))
        return addresses

    def _address_refusal(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
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
            if _ip_literal(url.raw_host.decode("ascii")) is None:
                extensions["sni_hostname"] = url.raw_host.decode("ascii")
        return httpx.Request("GET", target, headers=headers, extensions=extensions)

    def _receive(self, response: httpx.Response, url: httpx.URL, deadline: float) -> Downloaded:
        """Stream the body into a temporary file under the caps, then verify it."""
        self._check_response_headers(response)
        server_type = response.headers.get("content-type")
        fd, path = self._make_temp_file()
        try:
            size, head = self._stream_body(response, fd, deadline, server_type)
            image_format, width, height = self._inspect(path, head, server_type)
            name, extension, mime = FORMATS[image_format]
            return Downloaded(
                path=path,
                format=name,
                extension=extension,
                content_type=mime,
                size=size,
                width=width,
                height=height,
                url=str(url),
                server_content_type=server_type,
            )
        except BaseException:
            _remove_quietly(path)
            raise

    def _check_response_headers(self, response: httpx.Response) -> None:
        """Refuse before reading a byte: compressed bodies (bombs) or a declared size over the cap."""
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise DownloadRefused(f"compressed response ({encoding}) not accepted")
        declared = response.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            raise DownloadRefused(
                f"too large: Content-Length {int(declared)} bytes is over the {self.max_bytes} byte limit"
            )

    def _make_temp_file(self) -> tuple[int, Path]:
        """A fresh temporary file for the body, so it never has to sit in memory whole."""
        if self.temp_dir is not None:
            self.temp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.temp_dir, prefix=".download-", suffix=".part")
        return fd, Path(name)

    def _stream_body(
        self, response: httpx.Response, fd: int, deadline: float, server_type: str | None
    ) -> tuple[int, bytes]:
        """Copy the body into `fd` under the size and time caps; return (size, first bytes).

        The first 512 bytes are checked as soon as they arrive, so a non-image stops the
        download early instead of after the whole body.
        """
        size = 0
        head = b""
        sniffed = False
        with os.fdopen(fd, "wb") as out:
            for chunk in response.iter_raw():
                size += len(chunk)
                self._check_progress(size, deadline)
                out.write(chunk)
                if not sniffed:
                    head += chunk[: 512 - len(head)]
                    if len(head) >= 512:
                        self._check_signature(head, server_type)
                        sniffed = True
        if size == 0:
            raise DownloadRefused("empty response body")
        if not sniffed:
            self._check_signature(head, server_type)
        return size, head

    def _check_progress(self, size: int, deadline: float) -> None:
        """Stop a body that grows past the byte cap or outlasts the overall deadline."""
        if size > self.max_bytes:
            raise DownloadRefused(f"too large: over the {self.max_bytes} byte limit, stopped reading")
        if time.monotonic() > deadline:
            raise DownloadFailed(f"took longer than {self.total_timeout:g} s")

    def _check_signature(self, head: bytes, server_type: str | None) -> None:
        """Stop reading early when the first bytes are not an allowed image type."""
        if not _has_image_signature(head):
            raise DownloadRefused(_describe(head, server_type))

    def _inspect(self, path: Path, head: bytes, server_type: str | None) -> tuple[str, int, int]:
        """Open, verify and decode the file with Pillow; return (format, width, height).

        verify() checks the structure (PNG chunk CRCs...); a full decode catches what it
        misses (truncated JPEG/WebP data). JPEG decodes at 1/8 scale; the number of
        decodes at once is bounded, and so is their size (`max_pixels`).
        """
        allowed = tuple(FORMATS)
        image_format = None
        with self._decode_slots:
            try:
                with open(path, "rb") as handle, Image.open(handle, formats=allowed) as image:
                    image_format = image.format
                    width, height = image.size
                    if width * height > self.max_pixels:
                        raise DownloadRefused(
                            f"image too large: {width}x{height} pixels is over the {self.max_pixels} pixel limit"
                        )
                    image.verify()
                with open(path, "rb") as handle, Image.open(handle, formats=allowed) as image:
                    if image.format == "JPEG":
                        image.draft(None, (1, 1))
                    image.load()
            except DownloadError:
                raise
            except Image.UnidentifiedImageError as exc:
                raise DownloadRefused(_describe(head, server_type)) from exc
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                # The warning arrives as an exception only when warnings are errors (tests);
                # otherwise Pillow just warns and our own max_pixels check refuses.
                raise DownloadRefused(f"decompression bomb: {exc}") from exc
            except Exception as exc:  # Pillow raises many types for broken files
                shown = image_format or "image"
                raise DownloadRefused(f"corrupt or truncated {shown}: {type(exc).__name__}: {exc}") from exc
        if image_format not in FORMATS:
            raise DownloadRefused(f"image format {image_format} is not allowed")
        return image_format, width, height

    @staticmethod
    def _parse_allowed_origin(origin: str | None) -> tuple[str, str, int | None] | None:
        if not origin:
            return None
        url = httpx.URL(origin)
        if url.scheme not in _DEFAULT_PORTS or not url.host or url.userinfo:
            raise ValueError(f"allowed_origin must be an http(s) origin, got {origin!r}")
        return _origin(url)


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _shown_url(raw: Any) -> str:
    """Refuse a missing or oversized URL; return it shortened for error messages."""
    if not isinstance(raw, str) or not raw.strip():
        raise DownloadRefused("no URL")
    if len(raw) > MAX_URL_LENGTH:
        raise DownloadRefused(f"URL longer than {MAX_URL_LENGTH} characters")
    return raw if len(raw) <= 200 else raw[:200] + "..."


def _parse_url(raw: str, base: httpx.URL | None, shown: str) -> tuple[httpx.URL, str, int | None]:
    """Parse `raw` (relative to `base` for a redirect); any parse error is a refusal."""
    try:
        url = base.join(raw) if base is not None else httpx.URL(raw)
        host = url.raw_host.decode("ascii").lower()
        port = url.port
    except (httpx.InvalidURL, ValueError, UnicodeError, TypeError) as exc:
        raise DownloadRefused(f"malformed URL {shown!r}: {exc}") from exc
    return url, host, port


def _check_url_parts(url: httpx.URL, host: str, port: int | None, shown: str) -> None:
    """Rules for every URL, even the allowed origin: http(s), no credentials, a host, a sane port."""
    if url.scheme not in _DEFAULT_PORTS:
        scheme = f"{url.scheme}:" if url.scheme else "scheme-less"
        raise DownloadRefused(f"{scheme} URLs are not allowed (only https): {shown!r}")
    if url.userinfo:
        raise DownloadRefused("URL contains credentials")
    if not host:
        raise DownloadRefused(f"URL has no host: {shown!r}")
    if port is not None and not 0 < port < 65536:
        raise DownloadRefused(f"URL has an invalid port: {port}")


def _check_host_name(host: str) -> None:
    """Refuse odd host names that resolvers may read as an IP (e.g. "0x7f.1") or mangle."""
    if _ip_literal(host) is not None:
        return
    labels = host.rstrip(".").split(".")
    if not all(_HOST_LABEL.match(label) for label in labels):
        raise DownloadRefused(f"invalid host name {host!r}")
    if _NUMERIC_LABEL.match(labels[-1]):
        raise DownloadRefused(f"ambiguous numeric host {host!r}")


def _remove_quietly(path: Path) -> None:
    """Delete a temporary file that may already be gone, so cleanup never masks the real error."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _has_image_signature(head: bytes) -> bool:
    return (
        head.startswith(b"\x89PNG\r\n\x1a\n")
        or head.startswith(b"\xff\xd8\xff")
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
    )


def _describe(head: bytes, server_type: str | None) -> str:
    """A human-readable reason for bytes that are not an allowed image."""
    claimed = f" (server said {server_type})" if server_type else ""
    if not head:
        return "not an image: empty body"
    what = _other_image_kind(head) or _markup_kind(head) or _plain_kind(head)
    return f"not an image: looks like {what}{claimed}"


_OTHER_IMAGE_SIGNATURES = (
    ((b"GIF87a", b"GIF89a"), "a GIF image, which is not an allowed format"),
    ((b"BM",), "a BMP image, which is not an allowed format"),
    ((b"II*\x00", b"MM\x00*"), "a TIFF image, which is not an allowed format"),
)
"""(leading bytes, description) of image formats we recognise but do not accept."""


def _other_image_kind(head: bytes) -> str | None:
    """Name a real image in a format we refuse, so the message says it is not an error page."""
    for prefixes, what in _OTHER_IMAGE_SIGNATURES:
        if head.startswith(prefixes):
            return what
    if head[4:12] in (b"ftypavif", b"ftypheic", b"ftypmif1", b"ftypheix"):
        return "an AVIF/HEIF image, which is not an allowed format"
    return None


def _markup_kind(head: bytes) -> str | None:
    """Spot HTML, XML/SVG or JSON (error pages, API errors), ignoring a BOM and leading space."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text:
        return "text/html"
    if text.startswith(b"<?xml") or text.startswith(b"<svg") or b"<svg" in text:
        return "XML/SVG"
    if text.startswith((b"{", b"[")):
        return "JSON"
    return None


def _plain_kind(head: bytes) -> str:
    """Last-resort guesses once the image and markup signatures did not match."""
    if head.startswith(b"%PDF"):
        return "a PDF"
    if all(32 <= byte < 127 or byte in (9, 10, 13) for byte in head):
        return "text"
    return "unrecognised binary data"
