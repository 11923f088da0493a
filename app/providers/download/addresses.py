"""Which IP addresses an output download may connect to, and resolving a host to them.

Loopback, private, link-local, multicast, reserved, unspecified and non-global addresses
are refused, and so are IPv6 addresses that embed such an IPv4 address (IPv4-mapped,
6to4, NAT64) or tunnel to an unknown one (Teredo).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from app.providers.download import DownloadFailed, DownloadRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., Any]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")

_REFUSED_RANGES = (
    ("is_unspecified", "an unspecified address"),
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_private", "a private address"),
    ("is_reserved", "a reserved address"),
)
"""(ipaddress attribute, reason) pairs, checked in order so the most specific reason wins."""


def address_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why we will not connect to `ip`, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        reason = _ipv6_refusal(ip)
        if reason:
            return reason
    return _range_refusal(ip)


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


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    """Every address `resolver` (``socket.getaddrinfo``'s signature) gives for `host`, not yet vetted."""
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise DownloadFailed(f"cannot resolve {host}: {exc}") from exc
    candidates: list[IPAddress] = []
    for info in infos:
        try:
            candidates.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        except (ValueError, IndexError, TypeError) as exc:
            raise DownloadRefused(f"{host} resolves to an unusable address {info!r}") from exc
    if not candidates:
        raise DownloadFailed(f"{host} resolves to no address")
    return candidates
