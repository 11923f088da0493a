"""gunicorn's settings file, read from the working directory: it reads `.env`, and checks the configuration and
models.json once, before gunicorn forks any worker, so a missing or invalid variable or a broken registry stops
gunicorn itself (exit code 4) with the problem named once, instead of workers that fail and are booted again
forever."""

import sys

from app.core.config import ConfigError, load_settings
from app.core.env_file import load_env_file
from app.pool.registry import RegistryError, load_registry_file

try:
    load_env_file()  # the project's .env, read before forking: the workers inherit it
    settings = load_settings()
except ConfigError as exc:
    print(f"Configuration error: {exc}", file=sys.stderr, flush=True)
    sys.exit(4)
try:
    load_registry_file(settings.models_file)
except RegistryError as exc:
    print(exc.refusal(settings.models_file, "the web app"), file=sys.stderr, flush=True)
    sys.exit(4)
