"""gunicorn's settings file, read from the working directory: it checks the configuration once, before
gunicorn forks any worker, so a missing or invalid variable stops gunicorn itself (exit code 4) with the
variable named once, instead of workers that fail and are booted again forever."""

import sys

from app.config import ConfigError, load_settings

try:
    load_settings()
except ConfigError as exc:
    print(f"Configuration error: {exc}", file=sys.stderr, flush=True)
    sys.exit(4)
