"""Curating a gallery by hand (issue 14): chosen models, retrying exactly the failed items, releasing one
model, and a 409 / warning that say which running job holds the models."""

from __future__ import annotations

import re
import threading
from collections import Counter

from app.accounts.audit import AuditEvent
from app.core.database import db
from app.models import GalleryExample, Job
from tests.conftest import auth_headers, create_preset, post_generate
from tests.factories import mark_used, reserve_for_running_job
from tests.helpers import htmx, model_of, usage_of


def items_of(app, job_id) -> list[tuple[str, int]]:
    with app.app_context():
        return sorted((i.model_id, i.example_index) for i in db.session.get(Job, job_id).items)


# -- 1. manual selection ----------------------------------------------------------------------------
def test_manual_selection_of_three_models_makes_exactly_those_three(make_app, immediate_huey):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    chosen = ["male_03", "female_11", "female_30"]
    response = post_generate(client, preset["id"], {"modelIds": chosen})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert sorted(body["modelIds"]) == sorted(chosen) and body["models"] == {"male": 1, "female": 2}
    assert "warning" not in body
    assert items_of(app, body["jobId"]) == sorted((m, 0) for m in chosen)
    with app.app_context():
        assert db.session.get(Job, body["jobId"]).status == "succeeded"
        stored = db.session.query(GalleryExample).filter_by(preset_id=preset["id"]).all()
        assert sorted(e.model_id for e in stored) == sorted(chosen)
    assert usage_of(app, preset["id"]) == dict.fromkeys(chosen, "used")


def test_manual_selection_with_examples_per_model(make_app, immediate_huey):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    response = post_generate(client, preset["id"], {"modelIds": ["male_01", "male_02"], "examplesPerModel": 3})
    assert response.status_code == 202, response.get_json()
    assert items_of(app, response.get_json()["jobId"]) == [(m, i) for m in ("male_01", "male_02") for i in range(3)]


def test_unknown_duplicate_used_and_reserved_ids_are_all_named_and_nothing_is_reserved(make_app):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    mark_used(app, preset["id"], ["male_05"])
    running = reserve_for_running_job(app, preset["id"], ["female_02"])
    before = usage_of(app, preset["id"])
    response = post_generate(
        client, preset["id"], {"modelIds": ["male_01", "nobody_99", "male_01", "male_05", "female_02"]}
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "'nobody_99': not a reference model" in error
    assert "'male_01': named more than once" in error
    assert "'male_05': already used on" in error
    assert f"'female_02': reserved by running job {running}" in error
    assert usage_of(app, preset["id"]) == before, "a refused request must reserve nothing"
    with app.app_context():
        assert db.session.query(Job).count() == 1  # only the running job made above


def test_model_ids_must_be_a_non_empty_list_of_ids(make_app):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    for bad in ([], "male_01", [1], [""], ["x" * 65], None, {"a": 1}):
        response = post_generate(client, preset["id"], {"modelIds": bad})
        assert response.status_code == 400, bad
        assert "modelIds" in response.get_json()["error"]
    too_many = post_generate(client, preset["id"], {"modelIds": [f"male_{i}" for i in range(73)]})
    assert too_many.status_code == 400 and "the registry has 72" in too_many.get_json()["error"]
    assert usage_of(app, preset["id"]) == {}


# -- 2. retry exactly the failed items -------------------------------------------------------------
def test_retry_of_a_two_per_model_job_makes_exactly_the_failed_items(make_app, immediate_huey, replicate_server):
    app = make_app(replicate=replicate_server)
    client = app.test_client()
    preset = create_preset(client)
    chosen = [f"male_{n:02d}" for n in range(1, 6)] + [f"female_{n:02d}" for n in range(1, 6)]
    always, once = set(chosen[:3]), set(chosen[3:8])  # 3 models lose both examples, 5 lose one: 11 items
    lock, seen = threading.Lock(), Counter()

    def fail(model, payload):
        name = payload["image_input"][0].rsplit("/", 1)[1].rsplit("_", 1)[0]
        with lock:
            seen[name] += 1
            return name in always or (name in once and seen[name] == 1)

    replicate_server.fail_when = fail
    response = post_generate(client, preset["id"], {"modelIds": chosen, "examplesPerModel": 2})
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["jobId"]
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job.status == "partial" and job.failed == 11
        failed = sorted((i.model_id, i.example_index) for i in job.items if i.state == "failed")
    assert len(failed) == 11
    assert set(usage_of(app, preset["id"])) == set(chosen) - always  # models with no example were released

    replicate_server.fail_when = None
    before = len(replicate_server.creates)
    retried = client.post(f"/api/admin/jobs/{job_id}/retry", headers=auth_headers())
    assert retried.status_code == 202, retried.get_json()
    body = retried.get_json()
    assert sorted((i["modelId"], i["index"]) for i in body["items"]) == failed
    assert sorted(body["modelIds"]) == sorted(always | once)
    creates = replicate_server.creates[before:]
    assert len(creates) == 11
    assert Counter(model_of(c) for c in creates) == Counter(m for m, _ in failed)
    with app.app_context():
        assert db.session.get(Job, body["jobId"]).status == "succeeded"
        per_model = Counter(e.model_id for e in db.session.query(GalleryExample).filter_by(preset_id=preset["id"]))
        assert per_model == dict.fromkeys(chosen, 2)
        indexes = {(e.model_id, e.example_index) for e in db.session.query(GalleryExample)}
        assert indexes == {(m, i) for m in chosen for i in (0, 1)}
    assert usage_of(app, preset["id"]) == dict.fromkeys(chosen, "used")

    again = client.post(f"/api/admin/jobs/{job_id}/retry", headers=auth_headers())
    assert again.status_code == 409 and body["jobId"] in again.get_json()["error"]
    nothing = client.post(f"/api/admin/jobs/{body['jobId']}/retry", headers=auth_headers())
    assert nothing.status_code == 409


# -- 3. release one model ---------------------------------------------------------------------------
def test_releasing_one_model_frees_exactly_that_one_and_keeps_its_examples(make_app, immediate_huey):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    chosen = ["male_01", "male_02", "female_01"]
    assert post_generate(client, preset["id"], {"modelIds": chosen, "examplesPerModel": 2}).status_code == 202
    response = client.post(f"/api/admin/presets/{preset['id']}/models/male_02/release", headers=auth_headers())
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["usage"] == {"used": 2, "reserved": 0}
    assert usage_of(app, preset["id"]) == {"male_01": "used", "female_01": "used"}
    with app.app_context():
        assert db.session.query(GalleryExample).filter_by(preset_id=preset["id"], model_id="male_02").count() == 2
        assert db.session.query(GalleryExample).filter_by(preset_id=preset["id"]).count() == 6
    again = client.post(f"/api/admin/presets/{preset['id']}/models/male_02/release", headers=auth_headers())
    assert again.status_code == 409 and "already free" in again.get_json()["error"]
    unknown = client.post(f"/api/admin/presets/{preset['id']}/models/nobody_1/release", headers=auth_headers())
    assert unknown.status_code == 404
    # the released model can be chosen again
    assert post_generate(client, preset["id"], {"modelIds": ["male_02"]}).status_code == 202


def test_releasing_a_model_a_running_job_holds_is_refused(make_app):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    running = reserve_for_running_job(app, preset["id"], ["female_04"])
    response = client.post(f"/api/admin/presets/{preset['id']}/models/female_04/release", headers=auth_headers())
    assert response.status_code == 409 and running in response.get_json()["error"]
    assert usage_of(app, preset["id"]) == {"female_04": "reserved"}


# -- 4. the 409 and the warning say which running job holds the models -------------------------------
def test_no_free_model_names_the_running_job_and_the_clear_command(make_app):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    registry = app.extensions["pixelglow"].registry()
    ids = [m.id for m in registry.all]
    mark_used(app, preset["id"], ids[:60])
    running = reserve_for_running_job(app, preset["id"], ids[60:])
    response = post_generate(client, preset["id"])
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert "60 used" in error and "12 reserved" in error and f"job {running}" in error
    assert f"Wait for job {running}" in error
    assert f"flask --app wsgi usage clear {preset['id']}" in error


def test_eight_free_and_twelve_reserved_makes_the_eight_with_a_warning_naming_the_job(make_app):
    app = make_app()
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    client = app.test_client()
    preset = create_preset(client)
    registry = app.extensions["pixelglow"].registry()
    male, female = [m.id for m in registry.male], [m.id for m in registry.female]
    free = male[:4] + female[:4]
    reserved = male[4:10] + female[4:10]
    mark_used(app, preset["id"], male[10:] + female[10:])
    running = reserve_for_running_job(app, preset["id"], reserved)
    response = post_generate(client, preset["id"])
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["models"] == {"male": 4, "female": 4}
    assert sorted(m for m, _ in items_of(app, body["jobId"])) == sorted(free)
    assert "12 more are reserved" in body["warning"] and f"job {running}" in body["warning"]


# -- the admin pages (Flask's test client; Chromium in tests/browser/test_curation_pages.py) ---------


def test_the_pool_lists_each_model_with_its_state_and_the_form_generates_the_ticked_ones(admin_client):
    app = admin_client.application
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    preset = create_preset(admin_client)
    mark_used(app, preset["id"], ["male_01"])
    running = reserve_for_running_job(app, preset["id"], ["female_01"])
    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert page.count('class="pool-model ') == 72
    assert f"reserved by job {running}" in page and "used 20" in page
    assert 'value="male_02" form="generate-form" data-pick>' in page
    assert 'value="male_01" form="generate-form" data-pick disabled>' in page

    url = f"/admin/presets/{preset['id']}/generate"
    none_ticked = admin_client.post(url, data={"mode": "choose", "examples_per_model": "1"}, headers=htmx(admin_client))
    assert "Tick at least one free model" in none_ticked.get_data(as_text=True)
    refused = admin_client.post(
        url, data={"mode": "choose", "model_ids": ["male_01", "male_02"]}, headers=htmx(admin_client)
    )
    assert "&#39;male_01&#39;: already used on" in refused.get_data(as_text=True)
    queued = admin_client.post(
        url,
        data={"mode": "choose", "model_ids": ["male_02", "female_09"], "examples_per_model": "2"},
        headers=htmx(admin_client),
    )
    assert queued.status_code == 200
    with app.app_context():
        job = db.session.query(Job).filter(Job.id != running).one()
    assert items_of(app, job.id) == [("female_09", 0), ("female_09", 1), ("male_02", 0), ("male_02", 1)]
    # ticked boxes are ignored in the random mode
    random_job = admin_client.post(url, data={"mode": "random", "model_ids": ["male_03"]}, headers=htmx(admin_client))
    assert random_job.status_code == 200
    with app.app_context():
        assert db.session.query(Job).count() == 3
        assert max(j.total for j in db.session.query(Job)) == 20


def test_release_from_the_page_frees_one_model_and_is_refused_while_a_job_holds_it(admin_client):
    app = admin_client.application
    preset = create_preset(admin_client)
    mark_used(app, preset["id"], ["male_01", "male_02"])
    running = reserve_for_running_job(app, preset["id"], ["female_01"])
    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    url = f"/admin/presets/{preset['id']}/models/release"
    pool_form = re.search(r'<form class="pool-list"[^>]*>', page).group(0)
    assert f'action="{url}"' in pool_form and 'data-confirm="Release model {value} so' in pool_form
    assert page.count('<button class="btn small" name="model" value="male_0') == 2  # the used ones, one form
    assert "formaction" not in page

    def release(model: str | None):
        fields = {"csrf_token": admin_client.csrf} | ({"model": model} if model is not None else {})
        return admin_client.post(url, data=fields, follow_redirects=True).get_data(as_text=True)

    done = admin_client.post(url, data={"csrf_token": admin_client.csrf, "model": "male_01"})
    assert done.status_code == 303 and done.headers["Location"].endswith("#pool")
    assert usage_of(app, preset["id"]) == {"male_02": "used", "female_01": "reserved"}
    assert f"held by running job {running}" in release("female_01")
    assert "Say which model to release" in release(None) and "Say which model to release" in release(" ")
    assert "No reference model &#39;nobody_1&#39; in models.json" in release("nobody_1")
    assert "it is already free" in release("male_03")
    assert usage_of(app, preset["id"]) == {"male_02": "used", "female_01": "reserved"}
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="usage.release").count() == 1


# -- the CLI ----------------------------------------------------------------------------------------
def test_cli_generates_chosen_models_and_releases_one(make_app):
    app = make_app()
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    preset = create_preset(app.test_client())
    runner = app.test_cli_runner()
    result = runner.invoke(args=["generate", preset["id"], "--models", "male_07, female_08", "-n", "2"])
    assert result.exit_code == 0, result.output
    assert "4 images" in result.output
    refused = runner.invoke(args=["generate", preset["id"], "--models", "male_07,nobody"])
    assert refused.exit_code != 0
    assert "'male_07': reserved by running job" in refused.output and "'nobody': not a reference" in refused.output
    held = runner.invoke(args=["usage", "release", preset["id"], "male_07"])
    assert held.exit_code != 0 and "held by running job" in held.output
    mark_used(app, preset["id"], ["male_30"])
    released = runner.invoke(args=["usage", "release", preset["id"], "male_30"])
    assert released.exit_code == 0 and "Model male_30 released" in released.output
    assert "male_30" not in usage_of(app, preset["id"])
