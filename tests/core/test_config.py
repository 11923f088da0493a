"""Settings: production refuses to start on a bad value and names it; development needs nothing."""

import os
import subprocess
import sys

import pytest

from app.core.config import ConfigError, load_settings
from tests.helpers import PRODUCTION, PROJECT


@pytest.mark.fast
def test_a_complete_production_environment_loads(tmp_path):
    settings = load_settings({**PRODUCTION, "INSTANCE_PATH": str(tmp_path)})
    assert settings.generation_mode == "replicate" and not settings.offline
    assert settings.database_url == "postgresql+psycopg://app@db/pixelglow"
    assert settings.secure_cookies


@pytest.mark.fast
@pytest.mark.parametrize(
    "change, variable",
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"ADMIN_API_TOKEN": "short"}, "ADMIN_API_TOKEN"),  # unset is allowed: only named tokens then
        ({"DATABASE_URL": None}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": None}, "REDIS_URL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"REPLICATE_API_TOKEN": None}, "REPLICATE_API_TOKEN"),
        ({"GENERATION_MODE": "dry-run"}, "GENERATION_MODE"),
        ({"PORT": "eighty"}, "PORT"),
        ({"GENERATION_CONCURRENCY": "0"}, "GENERATION_CONCURRENCY"),
        ({"APP_ENV": "staging"}, "APP_ENV"),
    ],
)
def test_production_names_the_bad_variable(tmp_path, change, variable):
    environ = {**PRODUCTION, "INSTANCE_PATH": str(tmp_path), **change}
    environ = {k: v for k, v in environ.items() if v is not None}
    with pytest.raises(ConfigError, match=variable):
        load_settings(environ)


@pytest.mark.fast
def test_the_seed_queue_variable_is_accepted(tmp_path):
    environ = {**PRODUCTION, "INSTANCE_PATH": str(tmp_path), "GENERATE_QUEUE": "redis://queue:6379/1"}
    del environ["REDIS_URL"]
    assert load_settings(environ).redis_url == "redis://queue:6379/1"


@pytest.mark.fast
def test_development_needs_no_configuration_and_keeps_its_secrets(tmp_path, capsys):
    first = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert "ADMIN_API_TOKEN=" in capsys.readouterr().err
    second = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert capsys.readouterr().err == "", "generated once, printed once"
    assert (first.secret_key, first.admin_api_token) == (second.secret_key, second.admin_api_token)
    assert first.offline and first.redis_url is None
    assert first.database_url == f"sqlite:///{tmp_path / 'pixelglow.sqlite3'}"
    assert first.media_dir == tmp_path / "media"


def test_gunicorn_entry_point_exits_with_the_variable_named(tmp_path):
    env = {"PATH": os.environ["PATH"], "APP_ENV": "production", "INSTANCE_PATH": str(tmp_path)}
    asked = "import wsgi; wsgi.app"  # what gunicorn does with `wsgi:app`
    result = subprocess.run([sys.executable, "-c", asked], cwd=PROJECT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "Configuration error: SECRET_KEY" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.fast
def test_each_xdist_worker_gets_its_own_redis_database_counting_down_from_the_one_given():
    from tests.conftest import worker_redis_url

    assert worker_redis_url("redis://127.0.0.1:6379/9", None) == "redis://127.0.0.1:6379/9"
    assert worker_redis_url("redis://127.0.0.1:6379/9", "gw0") == "redis://127.0.0.1:6379/9"
    assert worker_redis_url("redis://127.0.0.1:6379/9", "gw1") == "redis://127.0.0.1:6379/8"
    with pytest.raises(RuntimeError, match="no Redis database for xdist worker gw2"):
        worker_redis_url("redis://127.0.0.1:6379/1", "gw2")
