"""Entry point: `flask --app wsgi run`, `gunicorn wsgi:app`. `app` is built when first asked for, not at import.

A configuration error, a broken models.json or a damaged embedded progress store exits with code 4, which
gunicorn reads as "App failed to load" and halts on; any other exit code would make it boot new workers forever.
(`gunicorn.conf.py` checks the first two once, before forking, so the message is printed once.) Every `flask`
command refuses to start on them too, but for `models` and `doctor`, which are there to say what is wrong.
"""

import os
import sys

from flask import Flask

from app import configure_logging, create_app
from app.core.config import ConfigError, load_settings
from app.core.env_file import load_env_file
from app.core.error_reporting import start_error_reporting
from app.jobs.embedded_store import StoreDamaged
from app.pool.registry import RegistryError
from app.tasks import enqueue_job

APP_LOAD_ERROR = 4  # gunicorn's Arbiter.APP_LOAD_ERROR
DIAGNOSING_COMMANDS = {"models", "doctor"}  # `flask --app wsgi …` commands that report a broken models.json
FLASK_OPTIONS_WITH_VALUE = {"--app", "-A", "--env-file", "-e"}


def flask_command(argv: list[str]) -> str | None:
    """The command `flask --app wsgi COMMAND …` runs, or None when this is not the flask CLI (gunicorn)."""
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":  # set by the flask CLI before it loads the app
        return None
    words = iter(argv[1:])
    for word in words:
        if word in FLASK_OPTIONS_WITH_VALUE:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_app() -> Flask:
    """The app, or the process stops (exit code 4) with the problem named, never a traceback."""
    try:
        load_env_file()  # the project's .env, under what the environment already sets
        settings = load_settings()
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr, flush=True)
        sys.exit(APP_LOAD_ERROR)
    configure_logging()
    start_error_reporting(settings)
    checks = flask_command(sys.argv) not in DIAGNOSING_COMMANDS
    try:
        return create_app(settings, enqueue=enqueue_job, checks_at_start=checks)
    except RegistryError as exc:
        print(exc.refusal(settings.models_file, "the web app"), file=sys.stderr, flush=True)
    except StoreDamaged as exc:
        print(f"The web app cannot start. {exc}", file=sys.stderr, flush=True)
    sys.exit(APP_LOAD_ERROR)


_built: list[Flask] = []


def __getattr__(name: str) -> Flask:
    """`wsgi.app`, built when first asked for (gunicorn and the flask CLI ask for it): importing this module
    builds nothing and writes nothing."""
    if name != "app":
        raise AttributeError(f"module 'wsgi' has no attribute {name!r}")
    if not _built:
        _built.append(build_app())
    return _built[0]
