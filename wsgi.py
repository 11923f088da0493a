"""Entry point: `flask --app wsgi run`, `gunicorn wsgi:app`."""

import sys

from app import configure_logging, create_app
from app.config import ConfigError
from app.tasks import enqueue_job  # the queue, built from the environment (exits naming a bad variable)

configure_logging()
try:
    app = create_app(enqueue=enqueue_job)
except ConfigError as exc:  # name the variable and stop, instead of a traceback
    sys.exit(f"Configuration error: {exc}")
