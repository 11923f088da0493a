"""Entry point: `flask --app wsgi run`, `gunicorn wsgi:app`."""
import sys

from app import configure_logging, create_app
from app.config import ConfigError

configure_logging()
try:
    app = create_app()
except ConfigError as exc:  # name the variable and stop, instead of a traceback
    sys.exit(f"Configuration error: {exc}")
