"""Server-side sessions for Flask: the cookie holds a random token, the data a row of `sessions`.

Only a sign-in makes a row. Before it, a visitor's session (the sign-in form's CSRF token, a message such
as "You are signed out") travels in a cookie of its own, signed with SECRET_KEY: anonymous page views cost
no database write, however many there are, and the form's CSRF check is a signed double-submit.

The row is read when the request starts (a database failure then leaves the session unloaded; the
authentication step reads it again and answers 503). Nothing is written and no cookie is set unless the
session changed, so most answers carry no Set-Cookie, and media never does. Activity (the idle timeout
is sliding) is recorded by `touch`, which the progress polls do not call.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import Flask, Request, Response, g
from flask import request as current_request
from flask.sessions import SessionInterface, SessionMixin, session_json_serializer
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import CallbackDict

from app.accounts.sessions import MAX_TOKEN_LENGTH, AdminSession, create_session, delete_session, is_expired, token_id
from app.accounts.users import User
from app.core.database import db
from app.models import utcnow
from app.web.context import services
from app.web.feed.gallery import FEED_PATH_PREFIXES
from app.web.health import PROBE_PATHS
from app.web.throttle import client_address

log = logging.getLogger(__name__)

NO_COOKIE_PREFIXES = ("/media/", "/static/")
ANONYMOUS_COOKIE = "anon_session"  # a visitor's session before sign-in: signed data, no row
TOUCH_EVERY = timedelta(seconds=60)  # at most one write per minute per session for the sliding timeout


def timeouts() -> tuple[timedelta, timedelta]:
    settings = services().settings
    return timedelta(seconds=settings.session_idle_seconds), timedelta(seconds=settings.session_lifetime_seconds)


def find_session_with_user(token: str | None) -> tuple[AdminSession, User | None] | None:
    """The session row, its user loaded by the same query (the request then needs no other for who it is)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None
    found = db.session.execute(
        select(AdminSession, User)
        .outerjoin(User, User.id == AdminSession.user_id)
        .where(AdminSession.id == token_id(token))
    ).first()
    return (found[0], found[1]) if found else None


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, token: str | None = None) -> None:
        def on_update(self: ServerSession) -> None:
            self.modified = True

        super().__init__(None, on_update)
        self.token = token
        self.row_id: str | None = None
        self.user_id: str | None = None
        self.user: User | None = None
        self.created_at: datetime | None = None
        self.last_seen_at: datetime | None = None
        self.loaded = False
        self.modified = False
        self.regenerate = False  # sign-in: a new token and row, the old row deleted
        self.ended = False  # sign-out: the row deleted, the cookie removed

    def load(self) -> None:
        """Read the row of the cookie's token (an expired or unknown token gives an empty session)."""
        if self.loaded:
            return
        found = find_session_with_user(self.token)
        # a row without a user (left by an older version, which kept visitors' sessions too) is not loaded
        if found is not None and found[0].user_id is not None and not is_expired(found[0], *timeouts()):
            row, self.user = found  # the user held here: SQLAlchemy's identity map keeps only weak references
            dict.update(self, row.data or {})
            self.row_id, self.user_id = row.id, row.user_id
            self.created_at, self.last_seen_at = row.created_at, row.last_seen_at
        self.loaded = True

    def touch(self) -> None:
        """Record activity (the idle timeout slides), at most once a minute (or a twentieth of the timeout)."""
        if self.row_id is None or self.last_seen_at is None:
            return
        idle, _ = timeouts()
        now = utcnow()
        if now - self.last_seen_at < min(TOUCH_EVERY, idle / 20):
            return
        row = db.session.get(AdminSession, self.row_id)
        if row is not None:
            row.last_seen_at = self.last_seen_at = now
            db.session.commit()

    def start(self, user_id: str) -> None:
        self.clear()
        self.regenerate = True
        self.user_id = user_id

    def end(self) -> None:
        self.clear()
        self.ended = True
        self.user_id = None


class ServerSessionInterface(SessionInterface):
    def open_session(self, app: Flask, request: Request) -> ServerSession:
        # probes and the gallery feed touch no session (nor its database row), whatever cookie they send
        if request.path in PROBE_PATHS or request.path.startswith(FEED_PATH_PREFIXES):
            return ServerSession(None)
        session = ServerSession(request.cookies.get(self.get_cookie_name(app)))
        try:
            session.load()
        except SQLAlchemyError as exc:  # authentication reads it again and answers 503
            db.session.rollback()
            log.warning("could not read the session: %s", exc.__class__.__name__)
        if session.row_id is None:
            dict.update(session, self._anonymous_data(app, request))
        return session

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)  # open_session makes only these
        if (
            not session.loaded
            or current_request.path.startswith(NO_COOKIE_PREFIXES)
            or g.get("auth") == "token"  # a script with a Bearer token gets no session
        ):
            return
        try:
            self._save(app, session, response, current_request)
        except SQLAlchemyError as exc:  # the answer is already made: keep it, without a new cookie
            db.session.rollback()
            log.warning("could not save the session: %s", exc.__class__.__name__)

    def _save(self, app: Flask, session: ServerSession, response: Response, request: Request) -> None:
        if session.row_id and (session.ended or session.regenerate):  # sign-out or sign-in: the old row goes
            delete_session(session.row_id)
            session.row_id = None
            db.session.commit()
        if session.user_id and session.row_id is None:  # a sign-in: its row, and no more anonymous cookie
            self._create(app, session, response, request)
            if ANONYMOUS_COOKIE in request.cookies:
                self._delete_cookie(app, response, ANONYMOUS_COOKIE)
        elif session.row_id:
            if session.modified:
                row = db.session.get(AdminSession, session.row_id)
                if row is not None:
                    row.data = dict(session)
                    db.session.commit()
        else:
            if session.ended and self.get_cookie_name(app) in request.cookies:
                self._delete_cookie(app, response, self.get_cookie_name(app))
            if session.modified or session.ended:
                self._save_anonymous(app, session, response, request)

    def _create(self, app: Flask, session: ServerSession, response: Response, request: Request) -> None:
        token, row = create_session(dict(session), session.user_id, client_address(), request.headers.get("User-Agent"))
        db.session.commit()
        _, lifetime = timeouts()
        response.set_cookie(
            self.get_cookie_name(app),
            token,
            expires=row.created_at + lifetime,
            httponly=self.get_cookie_httponly(app),
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
            path=self.get_cookie_path(app),
            domain=self.get_cookie_domain(app),
        )
        response.vary.add("Cookie")

    @staticmethod
    def _serializer(app: Flask) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(
            app.config["SECRET_KEY"], salt="anonymous-session", serializer=session_json_serializer
        )

    def _anonymous_data(self, app: Flask, request: Request) -> dict:
        """The visitor's session data, from the signed cookie (none from a cookie we did not sign lately)."""
        value = request.cookies.get(ANONYMOUS_COOKIE)
        if not value:
            return {}
        _, lifetime = timeouts()
        try:
            data = self._serializer(app).loads(value, max_age=int(lifetime.total_seconds()))
        except BadData:  # unsigned, forged, expired or unreadable
            return {}
        return data if isinstance(data, dict) else {}

    def _save_anonymous(self, app: Flask, session: ServerSession, response: Response, request: Request) -> None:
        if not dict(session):
            if ANONYMOUS_COOKIE in request.cookies:
                self._delete_cookie(app, response, ANONYMOUS_COOKIE)
            return
        response.set_cookie(
            ANONYMOUS_COOKIE,
            self._serializer(app).dumps(dict(session)),
            httponly=True,
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
            path=self.get_cookie_path(app),
            domain=self.get_cookie_domain(app),
        )
        response.vary.add("Cookie")

    def _delete_cookie(self, app: Flask, response: Response, name: str) -> None:
        response.delete_cookie(name, path=self.get_cookie_path(app), domain=self.get_cookie_domain(app))
