"""Migration 0017 drops the gallery versions table (the kept page markup it served is gone): `db downgrade` to
0016, the step before it, recreates it, `db upgrade` drops it again, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app import create_app
from app.core.config import load_settings
from app.core.database import db
from app.tasks import enqueue_job
from tests.conftest import PG_ADMIN_URL, base_env


def tables(app) -> set[str]:
    with app.app_context():
        names = set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    return names


def down_and_up(app) -> list[bool]:
    """Whether gallery_versions exists at the head, after going down to 0016, and after upgrading again."""
    seen = []
    with app.app_context():
        upgrade()
    seen.append("gallery_versions" in tables(app))
    with app.app_context():
        downgrade(revision="0016")
    seen.append("gallery_versions" in tables(app))
    with app.app_context():
        upgrade()
    seen.append("gallery_versions" in tables(app))
    return seen


def test_downgrade_one_step_and_upgrade_again_on_sqlite(tmp_path):
    env = base_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'pixelglow.sqlite3'}", REDIS_URL="")
    app = create_app(load_settings(env), {"TESTING": True}, enqueue=enqueue_job)
    assert down_and_up(app) == [False, True, False]


@pytest.mark.usefixtures("redis_client")
def test_downgrade_one_step_and_upgrade_again_on_postgresql(tmp_path):
    name = f"pixelglow_migrate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        app = create_app(load_settings(base_env(tmp_path, DATABASE_URL=url)), {"TESTING": True}, enqueue=enqueue_job)
        assert down_and_up(app) == [False, True, False]
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
