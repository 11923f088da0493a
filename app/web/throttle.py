"""Sign-in throttling (Flask-Limiter): failed attempts are counted per (account, client address) and per
client address, in Redis (shared by every web process) or in memory on the embedded defaults.

Only failures count, but every attempt is checked first: once a limit is reached the right password gets
the same 429 as a wrong one, and an unknown account is throttled exactly like an existing one (the key is
the typed email, looked up nowhere). The limits grow (a minute, a quarter of an hour, a day), so the wait
does too. The client address is the connection's, or the forwarded one when the connection comes from a
proxy in TRUSTED_PROXIES.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Iterable

from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from werkzeug.wrappers import Response

from app.services import services_of
from app.web.context import services
from app.web.errors import error_response

log = logging.getLogger(__name__)

LOGIN_ENDPOINT = "admin_auth.login"
EXTENSION = "pixelglow_limiter"


def _trusted(address: str, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address() -> str:
    """The caller's address: the connection's, or X-Forwarded-For's nearest hop that is not a trusted proxy."""
    remote = request.remote_addr or "unknown"
    proxies = services().settings.trusted_proxies
    if not proxies or not _trusted(remote, proxies):
        return remote
    hops = [hop.strip() for value in request.headers.getlist("X-Forwarded-For") for hop in value.split(",")]
    client = remote
    for hop in reversed([h for h in hops if h]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage a client wrote: keep the last hop a trusted proxy vouched for
        client = hop
        if not _trusted(hop, proxies):
            break
    return client


def account_key(email: str | None = None) -> str:
    """The typed email, normalised and hashed (no lookup, so unknown accounts count the same)."""
    typed = request.form.get("email", "") if email is None else email
    normalised = typed.strip().lower().encode("utf-8", "replace")
    return hashlib.sha256(normalised).hexdigest()[:24]


def account_and_address() -> str:
    return f"{account_key()}|{client_address()}"


def failed_attempt(response: Response) -> bool:
    return response.status_code == 401


def retry_after() -> int:
    """Seconds until every breached limit of this request has reset."""
    limiter: Limiter = current_app.extensions[EXTENSION]
    resets = [limit.window[0] for limit in limiter.current_limits if limit.breached]
    return max(1, math.ceil(max(resets, default=time.time() + 60) - time.time()))


def too_many_attempts(exc: RateLimitExceeded) -> Response:
    wait = retry_after()
    log.warning("sign-in locked out: account key %s from %s for %d s", account_key(), client_address(), wait)
    message = f"Too many sign-in attempts: try again in {wait} s."
    response = current_app.make_response(error_response(429, message))
    response.headers["Retry-After"] = str(wait)
    return response


def init_app(app: Flask) -> None:
    """One limiter per app (its storage follows the app's settings); limits on the login view's POST."""
    settings = services_of(app).settings
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.redis_url or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "pixelglow")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)  # Redis down: count in this process
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)  # never a 500 because the counter is unreachable
    limiter = Limiter(key_func=client_address)
    limiter.init_app(app)
    app.extensions[EXTENSION] = limiter
    by_account = limiter.limit(
        settings.login_limits_account, key_func=account_and_address, methods=["POST"], deduct_when=failed_attempt
    )
    by_address = limiter.limit(
        settings.login_limits_address, key_func=client_address, methods=["POST"], deduct_when=failed_attempt
    )
    view = by_address(by_account(app.view_functions[LOGIN_ENDPOINT]))
    # Flask-Limiter types its wrapper as possibly async; the login view it wraps is a plain function
    app.view_functions[LOGIN_ENDPOINT] = view  # type: ignore[assignment]
    app.register_error_handler(RateLimitExceeded, too_many_attempts)
