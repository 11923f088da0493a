"""Who may call the admin: a Bearer API token (scripts), or a signed-in admin (browser).

A Bearer call is authenticated by its header alone, so it needs no CSRF token; every
request that relies on the session cookie must carry one.
"""
from __future__ import annotations

import hmac
from functools import wraps

from flask import current_app, g, request, session

from .errors import error_response
from .extensions import csrf


def bearer_token_ok() -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return False
    expected = current_app.extensions["pixelglow"].settings.admin_api_token
    return hmac.compare_digest(header[len("Bearer "):].strip().encode(), expected.encode())


def authenticate() -> None:
    """Set g.auth to 'token', 'session' or None for this request."""
    if bearer_token_ok():
        g.auth = "token"
    elif session.get("admin_id") and current_app.extensions.get("pixelglow_users", lambda _id: None)(session["admin_id"]):
        g.auth = "session"
    else:
        g.auth = None


def unauthenticated():
    if request.headers.get("Authorization"):
        return error_response(401, "The API token is missing or wrong. Send it as 'Authorization: Bearer <ADMIN_API_TOKEN>'.")
    return error_response(401, "Sign in, or send the API token as 'Authorization: Bearer <ADMIN_API_TOKEN>'.")


def admin_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if getattr(g, "auth", None) is None:
            return unauthenticated()
        return view(*args, **kwargs)

    return wrapper


def init_app(app) -> None:

    @app.before_request
    def _authenticate_and_check_csrf():
        authenticate()
        if request.method not in ("GET", "HEAD", "OPTIONS") and g.auth != "token" and (
            g.auth == "session" or not request.path.startswith("/api/")
        ):
            csrf.protect()
