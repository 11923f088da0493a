"""Migration 0017 drops the gallery versions table (the kept page markup it served is gone): `db downgrade` to
0016, the step before it, recreates it, `db upgrade` drops it again, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app.core.database import db
from tests.helpers import app_on_an_empty_database


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
    with app_on_an_empty_database(tmp_path, "sqlite") as app:
        assert down_and_up(app) == [False, True, False]


@pytest.mark.usefixtures("redis_client")
def test_downgrade_one_step_and_upgrade_again_on_postgresql(tmp_path):
    with app_on_an_empty_database(tmp_path, "postgresql") as app:
        assert down_and_up(app) == [False, True, False]
