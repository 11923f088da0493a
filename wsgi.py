"""Entry point: `flask --app wsgi run`, `gunicorn wsgi:app`."""
from app import configure_logging, create_app

configure_logging()
app = create_app()
