"""The `.env` file: every entry point (the flask CLI through `wsgi`, gunicorn through `gunicorn.conf.py`, the
consumer through `app.tasks`) reads it before its settings, so secrets need no `export`.

It lives in the project root (`ENV_FILE` names another one); a variable already set in the environment wins over
the file. Production refuses a file that anyone but its owner may read or write: it holds the secrets.
"""

from __future__ import annotations

import os
import stat
from collections.abc import MutableMapping
from pathlib import Path

from dotenv import dotenv_values

from app.core.env_values import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def env_file_path(environ: MutableMapping[str, str]) -> Path:
    return Path(environ.get("ENV_FILE") or PROJECT_ROOT / ".env")


def load_env_file(environ: MutableMapping[str, str] | None = None) -> Path | None:
    """Add the `.env` file's variables that `environ` (os.environ) does not set yet; the file read, or None.

    Raises ConfigError for a named file that is missing, and in production for a file others can open."""
    environ = os.environ if environ is None else environ
    path = env_file_path(environ)
    if not path.is_file():
        if environ.get("ENV_FILE"):
            raise ConfigError(f"ENV_FILE names {path}, which is not a file")
        return None
    values = {name: value for name, value in dotenv_values(path).items() if value is not None}
    production = (environ.get("APP_ENV") or values.get("APP_ENV")) == "production"
    mode = stat.S_IMODE(path.stat().st_mode)
    if production and mode & 0o077:
        raise ConfigError(
            f"{path} holds secrets but others can open it (mode {mode:o}); "
            f"production refuses it: run `chmod 600 {path}`"
        )
    for name, value in values.items():
        environ.setdefault(name, value)
    return path
