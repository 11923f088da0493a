"""Errors answer in the caller's language: JSON for the API, a page for the browser.

Nothing reaches the user as a traceback: database and Redis outages become 503 with a message and a
`Retry-After` (a caller that retries, such as Replicate's webhooks, is asked to come back), anything
unexpected becomes a 500 with a short apology after the session is rolled back.
"""

from __future__ import annotations

import logging
import sqlite3

from flask import Flask, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

from app.core.database import db
from app.core.errors import AppError

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10  # an outage's usual length: a restart, a failover


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/hooks/")) or request.accept_mimetypes.best == "application/json"


def error_response(status: int, message: str) -> ResponseReturnValue:
    if wants_json():
        return jsonify(success=False, error=message), status
    try:
        return render_template("error.html", status=status, message=message), status
    except Exception:  # templates unavailable: plain text still beats a traceback
        return message, status, {"Content-Type": "text/plain; charset=utf-8"}


def unavailable(message: str) -> ResponseReturnValue:
    """503 with the time to wait before trying again."""
    response = current_app.make_response(error_response(503, message))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


# What a 503 says for each outage: the database, Redis, or the embedded stores' SQLite file (no Redis),
# locked past its timeout
OUTAGES = {
    OperationalError: "The database is unavailable right now. Try again shortly.",
    RedisError: "Redis is unavailable right now. Try again shortly.",
    sqlite3.DatabaseError: (
        "The embedded progress store is unavailable right now (locked or damaged): `flask --app wsgi doctor` "
        "says which and what to do."
    ),
}


def service_down(exc: Exception) -> ResponseReturnValue:
    db.session.rollback()
    log.warning("unavailable on %s %s: %s", request.method, request.path, exc.__class__.__name__)
    return unavailable(next(message for error, message in OUTAGES.items() if isinstance(exc, error)))


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        messages = {
            400: "The request could not be understood.",
            404: "Nothing here: check the address.",
            405: f"{request.method} is not allowed on this address.",
            413: "The request body is too large.",
        }
        code = exc.code or 500
        message = exc.description if exc.description and code not in messages else messages.get(code, exc.description)
        if exc.code == 400 and exc.description and "CSRF" in exc.description:
            message = "Your form expired or lacked its security token: reload the page and try again."
        response = error_response(code, message or exc.name)
        return response

    @app.errorhandler(AppError)
    def refused(exc: AppError) -> ResponseReturnValue:
        """Every AppError raised below the web side, answered in the caller's language."""
        db.session.rollback()
        if exc.status == 503:  # a service is down (the queue, Redis): say when to try again
            return unavailable(exc.message)
        return error_response(exc.status, exc.message)

    for outage in OUTAGES:
        app.register_error_handler(outage, service_down)

    @app.errorhandler(DataError)
    def bad_value(exc: Exception) -> ResponseReturnValue:
        db.session.rollback()
        return error_response(400, "A value in the request cannot be stored or looked up (bad characters or too long).")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Something went wrong on our side; it has been logged.")
