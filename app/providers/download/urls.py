"""Parsing and vetting an output URL (the first one and every redirect target) before any connection.

Only http(s) URLs without credentials, with a host and a sane port; plain http and odd host
names only for the one configured origin (the test server), everything else must be https.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from app.providers.download import DownloadRefused
from app.providers.download.addresses import ip_literal

MAX_URL_LENGTH = 4096
DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int | None]

_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")


def origin(url: httpx.URL) -> Origin:
    return (url.scheme, url.raw_host.decode("ascii").lower(), url.port or DEFAULT_PORTS.get(url.scheme))


def parse_allowed_origin(allowed: str | None) -> Origin | None:
    if not allowed:
        return None
    url = httpx.URL(allowed)
    if url.scheme not in DEFAULT_PORTS or not url.host or url.userinfo:
        raise ValueError(f"allowed_origin must be an http(s) origin, got {allowed!r}")
    return origin(url)


def is_allowed_origin(url: httpx.URL, allowed: Origin | None) -> bool:
    return allowed is not None and origin(url) == allowed


def check_url(raw: Any, base: httpx.URL | None, allowed: Origin | None) -> httpx.URL:
    """Parse and vet one URL (the first or a redirect target); return it without fragment."""
    shown = _shown_url(raw)
    url, host, port = _parse_url(raw, base, shown)
    _check_url_parts(url, host, port, shown)
    url = url.copy_with(fragment=None)
    if is_allowed_origin(url, allowed):
        return url
    if url.scheme != "https":
        raise DownloadRefused(f"plain http is allowed only from the configured origin: {shown!r}")
    _check_host_name(host)
    return url


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
    if url.scheme not in DEFAULT_PORTS:
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
    if ip_literal(host) is not None:
        return
    labels = host.rstrip(".").split(".")
    if not all(_HOST_LABEL.match(label) for label in labels):
        raise DownloadRefused(f"invalid host name {host!r}")
    if _NUMERIC_LABEL.match(labels[-1]):
        raise DownloadRefused(f"ambiguous numeric host {host!r}")
