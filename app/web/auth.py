"""Who may call the admin: a Bearer API token (scripts), or a signed-in admin (browser).

Tokens: a named token (`flask tokens create NAME [--expires 90d]`, stored hashed), or the environment's
ADMIN_API_TOKEN when it is set (the bootstrap and break-glass token; production may leave it unset).
Sessions live server-side (`app.web.sessions`): the cookie holds only a random token. Every request
knows its actor (`g.actor`: the admin's email, or "token NAME"), which jobs and the audit trail record.

A Bearer call is authenticated by its header alone, so it needs no CSRF token; every
request that relies on the session cookie must carry one.

Everything under /admin, /api/admin and /media needs one or the other; the login page
and static assets stay open. Anonymous requests are refused before the CSRF check, so
they are told to sign in rather than that their form expired. The consumer app's gallery feed
(`web.feed`) is none of this module's business: it has its own token and signed links.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any, cast
from urllib.parse import urlsplit

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import CSRFProtect

from app.accounts.tokens import find_active_token
from app.accounts.users import User, user_for_session
from app.core.database import db
from app.models import utcnow
from app.web.context import services
from app.web.errors import error_response
from app.web.feed.gallery import FEED_PATH_PREFIXES
from app.web.health import PROBE_PATHS
from app.web.metrics import METRICS_PATH
from app.web.sessions import ServerSession, ServerSessionInterface

csrf = CSRFProtect()

PROTECTED_PREFIXES = ("/admin", "/api/admin", "/media")
PUBLIC_ENDPOINTS = frozenset({"static", "admin_auth.login"})
SESSION_USER = "admin_id"
SESSION_STAMP = "admin_stamp"
ENV_TOKEN_ACTOR = "token ADMIN_API_TOKEN"
# Requests a page makes by itself (the 1 s progress poll, a comparison grid's 2 s poll, images): they do not
# count as activity, so an unattended page still reaches the idle timeout.
PASSIVE_ENDPOINTS = frozenset({"admin_jobs.progress", "admin_comparisons.live", "media.media", "static"})
TOKEN_USE_RECORDED_EVERY = 60  # seconds between writes of a named token's last use


def bearer_actor() -> str | None:
    """'token ADMIN_API_TOKEN', 'token NAME' for an active named token, or None (g.expired_token: the
    name and end of a named token presented after it expired, for the 401's message)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    presented = header[len("Bearer ") :].strip()
    expected = services().settings.admin_api_token
    if expected and hmac.compare_digest(presented.encode("utf-8", "replace"), expected.encode()):
        return ENV_TOKEN_ACTOR
    row = find_active_token(presented)
    if row is None:
        return None
    if row.expired:
        g.expired_token = (row.name, row.expires_at)
        return None
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > TOKEN_USE_RECORDED_EVERY:
        row.last_used_at = now
        db.session.commit()
    return f"token {row.name}"


# Called by Replicate, not by an admin: no session, no CSRF token; the handler checks the signature
SIGNED_BY_CALLER_PREFIXES = ("/hooks/",)


def server_session() -> ServerSession:
    """The request's session, as the server-side session it is (Flask types it as any SessionMixin)."""
    return cast(ServerSession, session)


def authenticate() -> None:
    """Set g.auth to 'token', 'session' or None for this request, g.actor, and g.user for a session."""
    g.user = g.actor = None
    actor = bearer_actor()
    if actor is not None:
        g.auth, g.actor = "token", actor
        return
    g.auth = None
    server_session().load()  # already read when the request started, unless the database failed then (→ 503)
    if server_session().user_id:
        user = user_for_session(server_session().user_id, session.get(SESSION_STAMP))
        if user is not None:
            g.auth, g.user, g.actor = "session", user, user.email
            if request.endpoint not in PASSIVE_ENDPOINTS:
                server_session().touch()


def sign_in(user: User) -> None:
    server_session().start(user.id)  # a fresh session: new token, new row, new CSRF token; the old row is deleted
    session[SESSION_USER] = user.id
    session[SESSION_STAMP] = user.session_stamp


def sign_out() -> None:
    server_session().end()  # the row is deleted: a copy of the cookie is worth nothing afterwards


def local_admin_path(target: object) -> str | None:
    """`target` if it is one of our admin pages, else None: never another host (absolute, scheme-relative
    or backslash URLs), never a control character (CR/LF would split the Location header)."""
    if not isinstance(target, str) or not target or len(target) > 2000:
        return None
    if not target.isascii() or not target.isprintable() or "\\" in target or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not (parts.path == "/admin" or parts.path.startswith("/admin/")):
        return None
    return target


def requires_admin() -> bool:
    path = request.path
    protected = any(path == p or path.startswith(p + "/") for p in PROTECTED_PREFIXES)
    return protected and request.endpoint not in PUBLIC_ENDPOINTS


def login_url() -> str:
    """The login page, coming back afterwards to the page the user was on."""
    target = request.headers.get("HX-Current-URL") if request.headers.get("HX-Request") else None
    if target:
        parts = urlsplit(target)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    elif request.method == "GET" and not request.path.startswith(("/api/", "/media/")):
        target = request.full_path.rstrip("?")
    if target and local_admin_path(target) and not target.startswith("/admin/login"):
        return url_for("admin_auth.login", next=target)
    return url_for("admin_auth.login")


def unauthenticated() -> ResponseReturnValue:
    if request.headers.get("HX-Request") and "admin_auth.login" in current_app.view_functions:
        # htmx does not follow a 302 to a login page sensibly: tell it where to go instead
        response = error_response(401, "Your session has expired: sign in again.")
        response = current_app.make_response(response)
        response.headers["HX-Redirect"] = login_url()
        return response
    expired = g.get("expired_token")
    if expired is not None:
        name, expires_at = expired
        return error_response(
            401,
            f"The API token {name!r} expired on {expires_at:%Y-%m-%d %H:%M} UTC. "
            "Create a new one with `flask --app wsgi tokens create NAME`.",
        )
    if request.headers.get("Authorization"):
        return error_response(401, "The API token is missing or wrong. Send it as 'Authorization: Bearer <token>'.")
    if request.path.startswith("/admin") and "admin_auth.login" in current_app.view_functions:
        return redirect(login_url(), 303 if request.method not in ("GET", "HEAD") else 302)
    return error_response(401, "Sign in, or send an API token as 'Authorization: Bearer <token>'.")


def admin_required(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if getattr(g, "auth", None) is None:
            return unauthenticated()
        return view(*args, **kwargs)

    return wrapper


def init_app(app: Flask) -> None:
    app.session_interface = ServerSessionInterface()
    csrf.init_app(app)

    @app.before_request
    def _authenticate_and_check_csrf() -> ResponseReturnValue | None:
        own_token = request.path in PROBE_PATHS or request.path == METRICS_PATH  # (none, or METRICS_TOKEN)
        if request.path.startswith(SIGNED_BY_CALLER_PREFIXES + FEED_PATH_PREFIXES) or own_token:
            return None
        authenticate()
        if g.auth is None and requires_admin():
            return unauthenticated()
        if (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and g.auth != "token"
            and (g.auth == "session" or not request.path.startswith("/api/"))
        ):
            csrf.protect()
        return None
