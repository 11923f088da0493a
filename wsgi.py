"""Entry point: `flask --app wsgi run`, `gunicorn wsgi:app`.

A configuration error exits with code 4, which gunicorn reads as "App failed to load" and halts on;
any other exit code would make it boot new workers forever. (`gunicorn.conf.py` checks the settings
once, before forking, so the message is printed once.)
"""

import sys

from app import configure_logging, create_app
from app.config import ConfigError, load_settings

APP_LOAD_ERROR = 4  # gunicorn's Arbiter.APP_LOAD_ERROR

try:
    load_settings()  # before importing the queue, which would exit with another code
except ConfigError as exc:  # name the variable and stop, instead of a traceback
    print(f"Configuration error: {exc}", file=sys.stderr, flush=True)
    sys.exit(APP_LOAD_ERROR)

from app.tasks import enqueue_job  # noqa: E402 — the queue, built from the (now valid) environment

configure_logging()
app = create_app(enqueue=enqueue_job)
