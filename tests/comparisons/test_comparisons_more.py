"""Comparisons beside the rest: `jobs prune` keeps a comparison's jobs, deleting a preset waits for its running
comparison (and takes its cells' images along), and migration 0021 goes down one step and up again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, update

from app.comparisons.reading import get_comparison, read_grid
from app.core.database import db
from app.models import Comparison, ComparisonCell, Job, utcnow
from tests.conftest import auth_headers, create_preset, post_generate
from tests.helpers import app_on_an_empty_database

BODY = {"variants": [{"current": True}, {"provider": "FLUX_PRO", "settings": {}}], "modelIds": ["male_01", "female_01"]}


def start(client, preset_id):
    response = client.post(f"/api/admin/presets/{preset_id}/comparisons", json=BODY, headers=auth_headers())
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def test_jobs_prune_keeps_a_comparisons_jobs_and_its_cells_items(make_app, immediate_huey):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client, name="Pruned")
    gallery_job = post_generate(client, preset["id"], {"modelIds": ["male_02"]}).get_json()["jobId"]
    started = start(client, preset["id"])
    with app.app_context():
        db.session.execute(update(Job).values(finished_at=utcnow() - timedelta(days=40)))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["jobs", "prune", "--older-than", "30"])
    assert result.exit_code == 0, result.output
    assert "Removed 1 finished jobs" in result.output and "comparisons' jobs were kept" in result.output
    with app.app_context():
        assert db.session.get(Job, gallery_job) is None
        kept = set(db.session.scalars(select(Job.id).where(Job.comparison_id == started["comparisonId"])))
        assert kept == {v["jobId"] for v in started["variants"]}
        assert None not in set(db.session.scalars(select(ComparisonCell.item_id)))
        grid = read_grid(get_comparison(started["comparisonId"]))
        assert grid.status == "finished" and {c.state for c in grid.cells} == {"succeeded"}


def test_deleting_a_preset_while_its_comparison_runs_is_refused_until_it_is_canceled(make_app):
    app = make_app()
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None  # queued, never run: it stays live
    client = app.test_client()
    preset = create_preset(client, name="Busy")
    started = start(client, preset["id"])
    refused = client.delete(f"/api/admin/presets/{preset['id']}", headers=auth_headers())
    assert refused.status_code == 409
    assert "cancel the comparison first" in refused.get_json()["error"]
    assert started["comparisonId"] in refused.get_json()["error"]
    canceled = client.post(f"/api/admin/comparisons/{started['comparisonId']}/cancel", headers=auth_headers())
    assert canceled.status_code == 202, canceled.get_json()
    deleted = client.delete(f"/api/admin/presets/{preset['id']}", headers=auth_headers())
    assert deleted.status_code == 200, deleted.get_json()
    with app.app_context():
        assert db.session.get(Comparison, started["comparisonId"]) is None


def test_deleting_a_preset_removes_its_comparisons_cell_images(make_app, immediate_huey):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client, name="Gone")
    started = start(client, preset["id"])
    storage = app.extensions["pixelglow"].storage
    with app.app_context():
        paths = [p for p in db.session.scalars(select(ComparisonCell.image_path)) if p]
    assert len(paths) == 4 and all(storage.exists(p) for p in paths)
    assert client.delete(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).status_code == 200
    assert not any(storage.exists(p) for p in paths)
    assert started["comparisonId"] in paths[0]


COMPARISON_TABLES = {"comparisons", "comparison_variants", "comparison_cells", "comparison_votes"}


def schema(app) -> tuple[bool, bool, bool]:
    """Whether the comparison tables, jobs.comparison_id and spend_entries.comparison_id exist."""
    with app.app_context():
        inspector = inspect(db.engine)
        found = (
            COMPARISON_TABLES <= set(inspector.get_table_names()),
            "comparison_id" in {c["name"] for c in inspector.get_columns("jobs")},
            "comparison_id" in {c["name"] for c in inspector.get_columns("spend_entries")},
        )
        db.engine.dispose()
    return found


def down_and_up(app) -> list[tuple[bool, bool, bool]]:
    seen = []
    with app.app_context():
        upgrade()
    seen.append(schema(app))
    with app.app_context():
        downgrade(revision="0020")
    seen.append(schema(app))
    with app.app_context():
        upgrade()
    seen.append(schema(app))
    return seen


ALL, NONE = (True, True, True), (False, False, False)


def test_migration_0021_down_one_step_and_up_again_on_sqlite(tmp_path):
    with app_on_an_empty_database(tmp_path, "sqlite") as app:
        assert down_and_up(app) == [ALL, NONE, ALL]


@pytest.mark.usefixtures("redis_client")
def test_migration_0021_down_one_step_and_up_again_on_postgresql(tmp_path):
    with app_on_an_empty_database(tmp_path, "postgresql") as app:
        assert down_and_up(app) == [ALL, NONE, ALL]
