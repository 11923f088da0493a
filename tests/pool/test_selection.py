"""Model selection: 10 + 10, never a model the preset used, reservations that cannot collide."""

import random
import threading

import pytest

from app.core.database import db
from app.jobs.pipeline import run_job
from app.jobs.submit import GenerationError, request_generation
from app.models import GalleryExample, Job, PresetModelUsage
from app.pool.selection import choose_models, record_model_usage
from tests.conftest import create_preset, post_generate


def generate(client, preset_id, **body):
    return post_generate(client, preset_id, body)


def job_models(app, job_id):
    with app.app_context():
        return {item.model_id for item in db.session.get(Job, job_id).items}


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_runs_one_to_four_exhaust_the_pool_and_run_five_is_refused(make_app, immediate_huey, database):
    app = make_app(database=database)
    client = app.test_client()
    preset = create_preset(client)
    seen: set[str] = set()
    for run in range(1, 5):
        response = generate(client, preset["id"])
        assert response.status_code == 202, response.get_json()
        models = job_models(app, response.get_json()["jobId"])
        expected = 20 if run < 4 else 12
        assert len(models) == expected
        assert sum(m.startswith("male_") for m in models) == expected // 2
        assert not models & seen, "a model was selected twice for one preset"
        seen |= models
        if run == 4:
            assert "only 6 of 10 male" in response.get_json()["warning"].lower()
    assert len(seen) == 72

    refused = generate(client, preset["id"])
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["success"] is False and "flask --app wsgi usage clear" in body["error"]
    with app.app_context():
        assert db.session.query(Job).count() == 4, "a refused request must not leave a job behind"


def test_choose_models_is_seedable_and_balanced(make_app):
    app = make_app()
    registry = app.extensions["pixelglow"].registry()
    first = choose_models(registry, set(), 20, random.Random(7))
    again = choose_models(registry, set(), 20, random.Random(7))
    assert [m.id for m in first.models] == [m.id for m in again.models]
    assert first.count("male") == first.count("female") == 10
    assert not first.shortfall


def test_record_model_usage_is_idempotent(make_app):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    with app.app_context():
        record_model_usage(preset["id"], ["male_01", "female_02"])
        db.session.commit()
        record_model_usage(preset["id"], ["male_01", "female_02", "male_03"])
        db.session.commit()
        rows = db.session.query(PresetModelUsage).filter_by(preset_id=preset["id"]).all()
        assert sorted(r.model_id for r in rows) == ["female_02", "male_01", "male_03"]
        assert {r.state for r in rows} == {"used"}


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_simultaneous_requests_never_share_a_model(make_app, database):
    """Two requests for one preset at the same moment, each in its own thread and session."""
    app = make_app(database=database)
    queued: list[str] = []
    app.extensions["pixelglow"].enqueue_job = queued.append
    preset = create_preset(app.test_client())
    barrier = threading.Barrier(2)
    results, errors = [], []

    def request_one():
        with app.app_context():
            barrier.wait()
            try:
                results.append(request_generation(app.extensions["pixelglow"], preset["id"], 1).job.id)
            except GenerationError as exc:  # pragma: no cover - reported below
                errors.append(exc.message)

    threads = [threading.Thread(target=request_one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 2
    first, second = (job_models(app, job_id) for job_id in results)
    assert len(first) == len(second) == 20
    assert not first & second
    assert sorted(queued) == sorted(results)

    def run(job_id):
        with app.app_context():
            run_job(job_id, app.extensions["pixelglow"])

    runners = [threading.Thread(target=run, args=(job_id,)) for job_id in results]
    for t in runners:
        t.start()
    for t in runners:
        t.join()
    with app.app_context():
        for job_id in results:
            assert db.session.query(GalleryExample).filter_by(job_id=job_id).count() == 20
            assert db.session.get(Job, job_id).status == "succeeded"
        assert db.session.query(PresetModelUsage).filter_by(state="used").count() == 40
