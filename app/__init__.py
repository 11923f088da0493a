"""The Flask application factory; it reads like a table of contents.

Packages, from the top (the layers in pyproject.toml): `web` (the JSON API, the admin pages, the gallery feed)
and `cli` call `health` and `services`, which wire the features: `jobs` (request → job, pipeline, progress,
recovery, limits), `analytics`, `gallery`, `presets`, `spend`, `pool` (the reference models), `accounts`; below
them the database tables (`models`), `providers` (what makes an example), `storage` (where it is kept) and
`core` (settings, database, errors). `tasks` (the Huey queue) sits above the factory and hands it the enqueue
function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask
from flask_migrate import Migrate
from htmx_flask import Htmx

from app import cli, web  # noqa: F401
from app.core.config import PROJECT_ROOT, Settings, load_settings
from app.core.database import db
from app.services import Services

migrate = Migrate()


def create_app(
    settings: Settings | None = None,
    overrides: dict | None = None,
    enqueue: Callable[[str], None] | None = None,
    *,
    checks_at_start: bool = True,
) -> Flask:
    """`enqueue(job_id)` puts a job on the queue (`app.tasks.enqueue_job` in the web process and the worker).

    A broken models.json raises `RegistryError` (naming the file and every problem), and a damaged embedded
    progress store `StoreDamaged`, unless `checks_at_start` is off: the commands that diagnose them (`models
    check`, `doctor`) and a consumer, which checked at its start.
    """
    settings = settings or load_settings()
    services = Services(settings, enqueue)
    if checks_at_start:
        services.registry_file.load()
        services.check_progress_store()
    app = Flask(
        __name__,
        instance_path=str(settings.instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    configure(app, settings, overrides or {})
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    Htmx(app)
    app.extensions["pixelglow"] = services
    web.init_app(app)
    cli.init_app(app)
    return app


def configure(app: Flask, settings: Settings, overrides: dict) -> None:
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in app.web.auth: session requests only, never Bearer calls
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
