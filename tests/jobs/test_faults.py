"""Crashes, provider faults, races and cancels, driven through real `huey_consumer` processes.

The Replicate-compatible server runs in this process; its counters prove what was created.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest

from app.core.database import db
from app.models import GalleryExample, Job, JobItem, PresetModelUsage
from tests.conftest import auth_headers, create_preset, post_generate, wait_for_job
from tests.live_stack import Consumer, isolated_queue

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def stack(make_app, replicate_server, tmp_path):
    """App + isolated queue + a factory for consumers (stopped at teardown)."""
    consumers: list[Consumer] = []
    with isolated_queue() as url:
        app = make_app(
            queue=url,
            replicate=replicate_server,
            JOB_STALE_SECONDS="2",
            SWEEP_INTERVAL_SECONDS="0.3",
            GENERATION_CONCURRENCY="20",
        )

        def start_consumer(workers: int = 4) -> Consumer:
            consumer = Consumer(app.config["TEST_ENV"], tmp_path / f"consumer-{len(consumers)}.log", workers)
            consumers.append(consumer)
            return consumer.start(app.extensions["pixelglow"].progress)

        app.start_consumer = start_consumer
        try:
            yield app
        finally:
            for consumer in consumers:
                consumer.stop()


def test_consumer_killed_five_times_finishes_the_job_without_duplicates(stack, replicate_server):
    replicate_server.latency, replicate_server.jitter = 1.5, 0.5
    client = stack.test_client()
    preset = create_preset(client)
    consumer = stack.start_consumer()
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    rng = random.Random(20261124)
    kills = []
    for _ in range(5):
        time.sleep(rng.uniform(0.3, 2.5))
        consumer.kill()
        kills.append(time.monotonic())
        consumer = stack.start_consumer()
    job = wait_for_job(stack, job_id, timeout=180)

    assert job.status == "succeeded", job.error
    with stack.app_context():
        examples = db.session.query(GalleryExample).filter_by(job_id=job_id).all()
        assert len(examples) == 20
        assert len({(e.model_id, e.example_index) for e in examples}) == 20
        used = db.session.query(PresetModelUsage).filter_by(preset_id=preset["id"]).all()
        assert len(used) == 20 and {u.state for u in used} == {"used"}
        assert {u.model_id for u in used} == {e.model_id for e in examples}
        assert db.session.get(Job, job_id).attempts >= 2

    creates_by_model = {}
    for create in replicate_server.creates:
        model = create["input"]["image_input"][0].rsplit("/", 1)[1].rsplit("_", 1)[0]
        creates_by_model.setdefault(model, []).append(create["time"])
    for model, times in creates_by_model.items():
        if len(times) > 1:  # a second create is only allowed when a kill came within 1 s of the first
            first = min(times)
            assert any(first <= kill <= first + 1.0 for kill in kills), f"{model} was created twice without cause"
    print(
        f"\ncreates: {len(replicate_server.creates)} for 20 items, kills at {[round(k - kills[0], 2) for k in kills]}"
    )


def test_ten_jobs_under_provider_faults_store_each_example_once_or_report_it(stack, replicate_server):
    replicate_server.latency, replicate_server.jitter = 0.2, 0.1
    replicate_server.fail_rate = 0.10
    replicate_server.throttle_rate = 0.10
    replicate_server.retry_after = 1
    replicate_server.download_error_rate = 0.05
    replicate_server.download_404_rate = 0.05
    client = stack.test_client()
    presets = [create_preset(client, name=f"Preset {n}") for n in range(4)]
    stack.start_consumer(workers=4)
    job_ids = []
    for n in range(10):
        response = post_generate(client, presets[n % 4]["id"])
        assert response.status_code in (202, 409), response.get_json()
        if response.status_code == 202:
            job_ids.append(response.get_json()["jobId"])
    assert len(job_ids) >= 10 - 4 * 0  # 3 runs fit in 72 models per preset: every request is accepted
    for job_id in job_ids:
        wait_for_job(stack, job_id, timeout=240)

    with stack.app_context():
        items = db.session.query(JobItem).filter(JobItem.job_id.in_(job_ids)).all()
        assert len(items) == 20 * len(job_ids)
        examples = db.session.query(GalleryExample).filter(GalleryExample.job_id.in_(job_ids)).all()
        stored = Counter((e.job_id, e.model_id, e.example_index) for e in examples)
        assert max(stored.values()) == 1, "an example was stored twice"
        for item in items:
            if item.state == "succeeded":
                assert stored[(item.job_id, item.model_id, item.example_index)] == 1
            else:
                assert item.state == "failed" and item.error, f"{item.model_id} ended {item.state} without a reason"
        failures = [i for i in items if i.state == "failed"]
        assert failures, "with 10 % of predictions failing, some item must have failed"
        assert all("simulated model failure" in f.error or "download" in f.error for f in failures)
        for preset in presets:
            usage = db.session.query(PresetModelUsage).filter_by(preset_id=preset["id"]).all()
            with_example = {e.model_id for e in examples if e.preset_id == preset["id"]}
            assert {u.model_id for u in usage} == with_example
            assert {u.state for u in usage} <= {"used"}
    assert replicate_server.throttled > 0, "the fault injection threw no 429, so the test proved nothing"
    print(
        f"\njobs={len(job_ids)} items={len(items)} failed={len(failures)} throttled={replicate_server.throttled} "
        f"download failures={replicate_server.download_failures}"
    )


def test_five_simultaneous_requests_share_no_model_and_the_rest_get_409(stack, replicate_server):
    client = stack.test_client()
    preset = create_preset(client)
    stack.start_consumer()
    barrier = threading.Barrier(5)
    responses = []

    def request_one():
        own_client = stack.test_client()
        barrier.wait()
        responses.append(post_generate(own_client, preset["id"]))

    threads = [threading.Thread(target=request_one) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202, 202, 202, 202, 409]
    refused = next(r for r in responses if r.status_code == 409).get_json()
    assert "usage clear" in refused["error"]
    job_ids = [r.get_json()["jobId"] for r in responses if r.status_code == 202]
    for job_id in job_ids:
        assert wait_for_job(stack, job_id).status == "succeeded"
    with stack.app_context():
        models_by_job = {j: {i.model_id for i in db.session.get(Job, j).items} for j in job_ids}
        assert sorted(len(m) for m in models_by_job.values()) == [12, 20, 20, 20]
        all_models = [m for models in models_by_job.values() for m in models]
        assert len(all_models) == len(set(all_models)) == 72


def test_cancel_mid_job_cancels_predictions_and_releases_models(stack, replicate_server):
    replicate_server.latency = 5.0
    client = stack.test_client()
    preset = create_preset(client)
    stack.start_consumer()
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    deadline = time.monotonic() + 30
    while len(replicate_server.creates) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    response = client.post(f"/api/admin/jobs/{job_id}/cancel", headers=auth_headers())
    assert response.status_code == 202, response.get_json()
    job = wait_for_job(stack, job_id, timeout=30)
    assert job.status == "canceled"
    created_ids = {c["id"] for c in replicate_server.creates}
    assert created_ids <= set(replicate_server.cancels), "every in-flight prediction got a cancel"
    with stack.app_context():
        assert db.session.query(PresetModelUsage).filter_by(preset_id=preset["id"]).count() == 0
        assert {i.state for i in db.session.get(Job, job_id).items} == {"canceled"}
    again = client.post(f"/api/admin/jobs/{job_id}/cancel", headers=auth_headers())
    assert again.status_code == 409 and "already ended" in again.get_json()["error"]
    replicate_server.latency = 0.05
    follow_up = post_generate(client, preset["id"])
    assert follow_up.status_code == 202, "released models are selectable again"
    assert wait_for_job(stack, follow_up.get_json()["jobId"]).status == "succeeded"


def test_cancel_of_a_queued_job_ends_it_at_once(stack):
    client = stack.test_client()
    preset = create_preset(client)  # no consumer: the job stays queued
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    response = client.post(f"/api/admin/jobs/{job_id}/cancel", headers=auth_headers())
    assert response.status_code == 202 and response.get_json()["status"] == "canceled"
    assert client.get(f"/api/admin/jobs/{job_id}", headers=auth_headers()).get_json()["status"] == "canceled"
    with stack.app_context():
        assert db.session.query(PresetModelUsage).count() == 0


def test_retry_failed_runs_exactly_the_failed_models(stack, replicate_server):
    lock = threading.Lock()
    doomed: list[str] = []

    def fail_three(model, payload):
        name = payload["image_input"][0].rsplit("/", 1)[1].rsplit("_", 1)[0]
        with lock:
            if name in doomed:
                return True
            if len(doomed) < 3:
                doomed.append(name)
                return True
            return False

    replicate_server.fail_when = fail_three
    client = stack.test_client()
    preset = create_preset(client)
    stack.start_consumer()
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    assert wait_for_job(stack, job_id).status == "partial"
    replicate_server.fail_when = None
    before = len(replicate_server.creates)
    response = client.post(f"/api/admin/jobs/{job_id}/retry", headers=auth_headers())
    assert response.status_code == 202, response.get_json()
    assert sorted(response.get_json()["modelIds"]) == sorted(doomed)
    retry_id = response.get_json()["jobId"]
    assert wait_for_job(stack, retry_id).status == "succeeded"
    retried = {
        c["input"]["image_input"][0].rsplit("/", 1)[1].rsplit("_", 1)[0] for c in replicate_server.creates[before:]
    }
    assert retried == set(doomed)
    with stack.app_context():
        assert db.session.query(PresetModelUsage).filter_by(preset_id=preset["id"], state="used").count() == 20
    nothing_left = client.post(f"/api/admin/jobs/{retry_id}/retry", headers=auth_headers())
    assert nothing_left.status_code == 409
