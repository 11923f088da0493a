"""Curating a gallery, part 2 (issue 15): each example records what made it (prompt, provider, model
version, settings), and "Regenerate" makes one new example for one example's model and index."""

from __future__ import annotations

from collections import Counter

import pytest
from markupsafe import escape

from app.core.database import db
from app.jobs.pipeline import run_job
from app.models import GalleryExample, Job, JobItem, PresetModelUsage
from tests.conftest import auth_headers, create_preset, post_generate
from tests.factories import job, reserve_for_running_job, stored_example
from tests.helpers import model_of, usage_of

SD_VERSION = "ddd4eb440853a42c055203289a3da0c8886b0b9492fe619b1c1dbd34be160ce7"


def gallery(client, preset_id) -> list[dict]:
    return client.get(f"/api/admin/presets/{preset_id}", headers=auth_headers()).get_json()["gallery"]["items"]


def regenerate(client, preset_id, example_id):
    return client.post(f"/api/admin/presets/{preset_id}/examples/{example_id}/regenerate", headers=auth_headers())


def example_of(examples: list[dict], model_id: str, index: int = 0) -> dict:
    return next(e for e in examples if e["modelId"] == model_id and e["index"] == index)


# -- what made each example -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "provider, settings, version, sent",
    [
        (
            "NANO_BANANA",
            {"aspect_ratio": "3:4"},
            "google/nano-banana",
            {"aspect_ratio": "3:4", "output_format": "jpg"},
        ),
        (
            "STABLE_DIFFUSION",
            {"negative_prompt": "blurry", "num_inference_steps": 30},
            f"stability-ai/stable-diffusion-img2img:{SD_VERSION}",
            {"negative_prompt": "blurry", "num_inference_steps": 30, "num_outputs": 1, "prompt_strength": 0.8},
        ),
    ],
)
def test_each_example_records_its_prompt_provider_model_version_and_the_settings_sent(
    make_app, immediate_huey, replicate_server, provider, settings, version, sent
):
    app = make_app(replicate=replicate_server)
    client = app.test_client()
    preset = create_preset(client, name=provider, provider=provider, settings=settings, prompt="Rainy street, neon")
    assert post_generate(client, preset["id"], {"modelIds": ["male_01", "female_02"]}).status_code == 202

    examples = gallery(client, preset["id"])
    assert len(examples) == 2
    for example in examples:
        assert example["prompt"] == "Rainy street, neon"
        assert example["provider"] == provider
        assert example["modelVersion"] == version
        assert example["settings"] == sent
    for create in replicate_server.creates:  # what was recorded is what went to Replicate
        assert create.get("model") or create["version"] == SD_VERSION
        assert {k: v for k, v in create["input"].items() if k in sent} == sent
    with app.app_context():
        references = {m.s3_url for m in app.extensions["pixelglow"].registry().all}
        for row in db.session.query(GalleryExample):
            assert row.model_version == version and row.settings == sent
            # neither the prompt nor the (possibly signed) reference photo's URL is kept with the settings
            assert not set(map(str, row.settings.values())) & (references | {"Rainy street, neon"})


def test_an_offline_placeholder_says_no_model_made_it(make_app, immediate_huey):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client, settings={"output_format": "png"})
    assert post_generate(client, preset["id"], {"modelIds": ["female_05"]}).status_code == 202
    (example,) = gallery(client, preset["id"])
    assert example["offline"] is True
    assert example["modelVersion"] == "offline placeholder (google/nano-banana was not called)"
    assert example["settings"] == {"output_format": "png", "aspect_ratio": "match_input_image"}
    assert example["prompt"] == preset["prompt"]


def test_a_preset_edited_while_its_job_waits_leaves_that_jobs_examples_with_what_made_them(admin_client):
    """The job snapshots the prompt and settings when it is queued: an edit meanwhile changes the next job."""
    app = admin_client.application
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None  # queued, not run yet
    preset = create_preset(admin_client, prompt="Old prompt: soft window light", settings={"aspect_ratio": "3:4"})
    first = post_generate(admin_client, preset["id"], {"modelIds": ["male_01", "male_02"]}).get_json()["jobId"]
    edited = admin_client.patch(
        f"/api/admin/presets/{preset['id']}",
        json={"prompt": "New prompt: hard flash", "settings": {"aspect_ratio": "16:9"}},
        headers=auth_headers(),
    )
    assert edited.status_code == 200, edited.get_json()
    with app.app_context():
        run_job(first, app.extensions["pixelglow"])  # the worker runs the job after the edit
    second = post_generate(admin_client, preset["id"], {"modelIds": ["female_01"]}).get_json()["jobId"]
    with app.app_context():
        run_job(second, app.extensions["pixelglow"])

    examples = gallery(admin_client, preset["id"])
    made = {(e["modelId"], e["prompt"], e["settings"]["aspect_ratio"]) for e in examples}
    assert made == {
        ("male_01", "Old prompt: soft window light", "3:4"),
        ("male_02", "Old prompt: soft window light", "3:4"),
        ("female_01", "New prompt: hard flash", "16:9"),
    }
    for example in examples:  # each example's view names the prompt it was made with (the cards do not repeat it)
        view = admin_client.get(f"/admin/presets/{preset['id']}/examples/{example['id']}").get_data(as_text=True)
        assert f'data-field="prompt">{escape(example["prompt"])}</dd>' in view


# -- regenerate one -----------------------------------------------------------------------------------
def test_regenerate_makes_exactly_one_prediction_and_one_example_with_the_current_prompt(
    make_app, immediate_huey, replicate_server
):
    app = make_app(replicate=replicate_server)
    client = app.test_client()
    preset = create_preset(client, prompt="First prompt")
    chosen = ["male_01", "male_02", "female_03"]
    assert post_generate(client, preset["id"], {"modelIds": chosen, "examplesPerModel": 2}).status_code == 202
    old = example_of(gallery(client, preset["id"]), "male_02", 1)
    client.patch(f"/api/admin/presets/{preset['id']}", json={"prompt": "Second prompt"}, headers=auth_headers())

    before = len(replicate_server.creates)
    response = regenerate(client, preset["id"], old["id"])
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert (body["regenerateOf"], body["modelId"], body["index"]) == (old["id"], "male_02", 1)
    creates = replicate_server.creates[before:]
    assert [model_of(c) for c in creates] == ["male_02"]
    assert creates[0]["input"]["prompt"] == "Second prompt"

    examples = gallery(client, preset["id"])
    assert len(examples) == 7
    assert old["id"] in {e["id"] for e in examples}  # the old example stays until it is rejected
    new = next(e for e in examples if e["jobId"] == body["jobId"])
    assert (new["modelId"], new["index"], new["prompt"]) == ("male_02", 1, "Second prompt")
    assert {e["prompt"] for e in examples if e["id"] != new["id"]} == {"First prompt"}
    assert Counter(e["modelId"] for e in examples) == {"male_01": 2, "male_02": 3, "female_03": 2}

    job = client.get(f"/api/admin/jobs/{body['jobId']}", headers=auth_headers()).get_json()
    assert (job["status"], job["total"], job["done"], job["regenerateOf"]) == ("succeeded", 1, 1, old["id"])
    with app.app_context():
        row = db.session.get(Job, body["jobId"])
        assert (row.regenerate_of, row.retry_of, row.examples_per_model, row.prompt) == (
            old["id"],
            None,
            1,
            "Second prompt",
        )
    assert usage_of(app, preset["id"]) == dict.fromkeys(chosen, "used")  # the used model stays used


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_regenerate_is_not_stopped_by_the_usage_rule_and_settles_like_a_retry(make_app, immediate_huey, database):
    """A used model passes to the one-item job and stays used; a released one is used again."""
    app = make_app(database=database)
    client = app.test_client()
    preset = create_preset(client)
    assert post_generate(client, preset["id"], {"modelIds": ["male_04", "female_04"]}).status_code == 202
    examples = gallery(client, preset["id"])
    assert regenerate(client, preset["id"], example_of(examples, "male_04")["id"]).status_code == 202
    released = client.post(f"/api/admin/presets/{preset['id']}/models/female_04/release", headers=auth_headers())
    assert released.status_code == 200
    assert regenerate(client, preset["id"], example_of(examples, "female_04")["id"]).status_code == 202
    assert usage_of(app, preset["id"]) == {"male_04": "used", "female_04": "used"}
    assert Counter(e["modelId"] for e in gallery(client, preset["id"])) == {"male_04": 2, "female_04": 2}


def test_regenerate_refuses_an_unknown_example_and_one_of_another_preset_with_404(make_app, immediate_huey):
    app = make_app()
    client = app.test_client()
    mine, other = create_preset(client, name="Mine"), create_preset(client, name="Other")
    assert post_generate(client, other["id"], {"modelIds": ["male_09"]}).status_code == 202
    theirs = gallery(client, other["id"])[0]["id"]
    for example_id in ("nosuchexample", theirs):
        response = regenerate(client, mine["id"], example_id)
        assert response.status_code == 404
        assert f"No example {example_id!r}" in response.get_json()["error"]
    assert regenerate(client, "nosuchpreset", theirs).status_code == 404
    with app.app_context():
        assert db.session.query(Job).count() == 1


def test_regenerate_is_refused_while_another_job_of_the_preset_works_on_the_model(make_app, immediate_huey):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    assert post_generate(client, preset["id"], {"modelIds": ["male_11", "female_11"]}).status_code == 202
    examples = gallery(client, preset["id"])
    # a running job holds a reservation on female_11 (a released model it picked again)
    client.post(f"/api/admin/presets/{preset['id']}/models/female_11/release", headers=auth_headers())
    running = reserve_for_running_job(app, preset["id"], ["female_11"])
    # and a running retry works on male_11, which stays "used" (no reservation row names that job's items)
    retry_id = job(app, preset["id"], status="queued", items=["male_11"])
    for model_id, holder in (("female_11", running), ("male_11", retry_id)):
        response = regenerate(client, preset["id"], example_of(examples, model_id)["id"])
        assert response.status_code == 409
        error = response.get_json()["error"]
        assert f"Job {holder} of this preset is still working on model {model_id}" in error
        assert "Nothing was queued" in error
    with app.app_context():
        assert db.session.query(Job).count() == 3
        assert db.session.query(JobItem).count() == 3


def test_two_regenerates_of_one_example_at_once_make_one_job(make_app):
    """The second asks while the first is still queued: the model is busy."""
    app = make_app()
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    client = app.test_client()
    preset = create_preset(client)
    example_id = stored_example(app, preset["id"], "male_20")
    first = regenerate(client, preset["id"], example_id)
    assert first.status_code == 202
    second = regenerate(client, preset["id"], example_id)
    assert second.status_code == 409 and first.get_json()["jobId"] in second.get_json()["error"]
    assert usage_of(app, preset["id"]) == {"male_20": "used"}
    with app.app_context():
        usage = db.session.query(PresetModelUsage).one()
        assert usage.job_id == first.get_json()["jobId"]  # passed to the redo, as a retry does


def test_regenerate_over_the_monthly_budget_gets_a_409_and_makes_nothing(make_app, immediate_huey, replicate_server):
    app = make_app(replicate=replicate_server, SPEND_LIMIT_PER_MONTH_USD="0.80")
    client = app.test_client()
    preset = create_preset(client)
    assert post_generate(client, preset["id"]).status_code == 202  # 20 x $0.039 = $0.78
    example = gallery(client, preset["id"])[0]
    before = len(replicate_server.creates)
    response = regenerate(client, preset["id"], example["id"])
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert "$0.039" in error and "$0.02 is left" in error and "Nothing was queued" in error, error
    assert len(replicate_server.creates) == before
    with app.app_context():
        assert db.session.query(Job).count() == 1
        assert db.session.query(GalleryExample).count() == 20


def test_regenerate_reserves_its_estimate_like_generate(make_app, replicate_server):
    app = make_app(replicate=replicate_server, SPEND_LIMIT_PER_MONTH_USD="1.00")  # no worker: the job stays queued
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    client = app.test_client()
    preset = create_preset(client)
    example_id = stored_example(app, preset["id"], "female_30")
    assert regenerate(client, preset["id"], example_id).status_code == 202
    month = client.get("/api/admin/spend", headers=auth_headers()).get_json()
    assert (month["reservedUsd"], month["leftUsd"]) == ("0.039", "0.961")


# -- the admin pages (Flask's test client; Chromium in tests/browser/test_regenerate_page.py) -------------
def test_the_view_offers_regenerate_and_the_job_shows_what_it_redoes(admin_client, immediate_huey):
    app = admin_client.application
    preset = create_preset(admin_client)
    assert post_generate(admin_client, preset["id"], {"modelIds": ["male_05", "female_06"]}).status_code == 202
    example = example_of(gallery(admin_client, preset["id"]), "female_06")
    url = f"/admin/presets/{preset['id']}/examples/{example['id']}/regenerate"
    view = admin_client.get(f"/admin/presets/{preset['id']}/examples/{example['id']}").get_data(as_text=True)
    assert (
        f'action="/admin/presets/{preset["id"]}/review/{example["id"]}/regenerate"' in view
    )  # the large view's button

    assert admin_client.post(url).status_code == 400  # no CSRF token: nothing happens
    done = admin_client.post(url, data={"csrf_token": admin_client.csrf})
    assert done.status_code == 303 and "/admin/jobs/" in done.headers["Location"]
    job_page = admin_client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Regenerate of example" in job_page and f"#example-{example['id']}" in job_page
    assert "(model <code>female_06</code> #1)" in job_page
    jobs_page = admin_client.get("/admin/jobs").get_data(as_text=True)
    assert jobs_page.count('class="job-kind"') == 1 and f"<code>{example['id'][:8]}</code>" in jobs_page
    with app.app_context():
        assert db.session.query(Job).filter_by(regenerate_of=example["id"]).one().created_by == "curator@example.com"
    assert Counter(e["modelId"] for e in gallery(admin_client, preset["id"])) == {"male_05": 1, "female_06": 2}


def test_htmx_regenerate_answers_the_progress_fragment_and_errors_in_the_feedback_box(admin_client):
    app = admin_client.application
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None  # stays queued: the model is busy
    preset = create_preset(admin_client)
    example_id = stored_example(app, preset["id"], "male_33")
    url = f"/admin/presets/{preset['id']}/examples/{example_id}/regenerate"
    headers = {"HX-Request": "true", "X-CSRFToken": admin_client.csrf}
    queued = admin_client.post(url, headers=headers)
    assert queued.status_code == 200
    html = queued.get_data(as_text=True)
    assert 'id="progress"' in html and 'data-status="queued"' in html
    busy = admin_client.post(url, headers=headers)
    assert busy.status_code == 200 and busy.headers["HX-Retarget"] == "#generate-feedback"
    assert "is still working on model male_33" in busy.get_data(as_text=True)
    gone = admin_client.post(f"/admin/presets/{preset['id']}/examples/nosuchexample/regenerate", headers=headers)
    assert "No example &#39;nosuchexample&#39;" in gone.get_data(as_text=True)
    plain = admin_client.post(url, data={"csrf_token": admin_client.csrf}, follow_redirects=True)
    assert "is still working on model male_33" in plain.get_data(as_text=True)


# -- the CLI ------------------------------------------------------------------------------------------
def test_cli_regenerates_one_example(make_app, immediate_huey):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    assert post_generate(client, preset["id"], {"modelIds": ["female_12"], "examplesPerModel": 2}).status_code == 202
    example = example_of(gallery(client, preset["id"]), "female_12", 1)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["generate", preset["id"], "--regenerate", example["id"]])
    assert result.exit_code == 0, result.output
    assert "Regenerating example 2 of model female_12" in result.output and "old example stays" in result.output
    assert len(gallery(client, preset["id"])) == 3
    mixed = runner.invoke(args=["generate", preset["id"], "--regenerate", example["id"], "--models", "male_01"])
    assert mixed.exit_code != 0 and "leave out --models" in mixed.output
    unknown = runner.invoke(args=["generate", preset["id"], "--regenerate", "nosuchexample"])
    assert unknown.exit_code != 0 and "No example 'nosuchexample'" in unknown.output
