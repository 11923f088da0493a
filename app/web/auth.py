"""Who may call the admin: a Bearer API token (scripts), or a signed-in admin (browser).

A Bearer call is authenticated by its header alone, so it needs no CSRF token; every
request that relies on the session cookie must carry one.

Everything under /admin, /api/admin and /media needs one or the other; the login page
and static assets stay open. Anonymous requests are refused before the CSRF check, so
they are told to sign in rather than that their form expired.
"""

from __future__ import annotations

import hmac
from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, g, redirect, request, session, url_for
from flask_wtf import CSRFProtect

from ..users import user_for_session
from .context import services
from .errors import error_response

csrf = CSRFProtect()

PROTECTED_PREFIXES = ("/admin", "/api/admin", "/media")
PUBLIC_ENDPOINTS = frozenset({"static", "admin_auth.login"})
SESSION_USER = "admin_id"
SESSION_STAMP = "admin_stamp"
# Called by Replicate, not by an admin: no session, no CSRF token; the handler checks the signature
SIGNED_BY_CALLER_PREFIXES = ("/hooks/",)


def bearer_token_ok() -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return False
    expected = services().settings.admin_api_token
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), expected.encode())


def authenticate() -> None:
    """Set g.auth to 'token', 'session' or None for this request (and g.user for a session)."""
    g.user = None
    if bearer_token_ok():
        g.auth = "token"
        return
    g.auth = None
    if session.get(SESSION_USER):
        user = user_for_session(session.get(SESSION_USER), session.get(SESSION_STAMP))
        if user is not None:
            g.auth, g.user = "session", user


def sign_in(user) -> None:
    session.clear()  # a fresh session (and CSRF token) on every sign-in
    session.permanent = True
    session[SESSION_USER] = user.id
    session[SESSION_STAMP] = user.session_stamp


def sign_out() -> None:
    session.clear()


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
    if target and target.startswith("/admin") and not target.startswith("/admin/login"):
        return url_for("admin_auth.login", next=target)
    return url_for("admin_auth.login")


def unauthenticated():
    if request.headers.get("HX-Request") and "admin_auth.login" in current_app.view_functions:
        # htmx does not follow a 302 to a login page sensibly: tell it where to go instead
        response = error_response(401, "Your session has expired: sign in again.")
        response = current_app.make_response(response)
        response.headers["HX-Redirect"] = login_url()
        return response
    if request.headers.get("Authorization"):
        return error_response(
            401, "The API token is missing or wrong. Send it as 'Authorization: Bearer <ADMIN_API_TOKEN>'."
        )
    if request.path.startswith("/admin") and "admin_auth.login" in current_app.view_functions:
        return redirect(login_url(), 303 if request.method not in ("GET", "HEAD") else 302)
    return error_response(401, "Sign in, or send the API token as 'Authorization: Bearer <ADMIN_API_TOKEN>'.")


def admin_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if getattr(g, "auth", None) is None:
            return unauthenticated()
        return view(*args, **kwargs)

    return wrapper


def init_app(app) -> None:
    csrf.init_app(app)

    @app.before_request
    def _authenticate_and_check_csrf():
        if request.path.startswith(SIGNED_BY_CALLER_PREFIXES):
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
