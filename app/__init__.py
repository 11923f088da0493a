"""The Flask application factory; it reads like a table of contents."""
from __future__ import annotations

import logging

from flask import Flask
from werkzeug.routing import BaseConverter

from .config import PROJECT_ROOT, Settings, load_settings


def create_app(settings: Settings | None = None, overrides: dict | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(
        __name__,
        instance_path=str(settings.instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    configure(app, settings, overrides or {})
    register_extensions(app, settings)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


class IdConverter(BaseConverter):
    """Ids in URLs: letters, digits, '-' and '_'. Anything else is a 404 before it reaches a query."""

    regex = r"[A-Za-z0-9_-]{1,64}"


def configure(app: Flask, settings: Settings, overrides: dict) -> None:
    app.url_map.converters["id"] = IdConverter
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in app.auth: session requests only, never Bearer calls
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.config.update(overrides)


def configure_logging() -> None:
    """One line per event, for the web server and the workers (not imposed on importers like tests)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll of every prediction is noise
    if logging.getLogger("huey").handlers:  # huey_consumer logs huey's lines itself: don't print them twice
        logging.getLogger("huey").propagate = False


def engine_options(settings: Settings) -> dict:
    if settings.database_url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20, "connect_args": {"connect_timeout": 5}}


def register_extensions(app: Flask, settings: Settings) -> None:
    from htmx_flask import Htmx

    from .extensions import csrf, db, migrate
    from .services import Services

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    Htmx(app)
    app.extensions["pixelglow"] = Services(settings)


def register_blueprints(app: Flask) -> None:
    from . import auth
    from .api import bp as api_bp

    auth.init_app(app)
    from .media import bp as media_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(media_bp)
    from .admin import init_app as init_admin

    init_admin(app)


def register_errorhandlers(app: Flask) -> None:
    from .errors import init_app

    init_app(app)


def register_commands(app: Flask) -> None:
    from .cli import init_app

    init_app(app)
