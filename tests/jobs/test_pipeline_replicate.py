"""The pipeline against the Replicate-compatible test server, through the real `replicate` client."""

import threading

import pytest
from PIL import Image

from app.core.database import db
from app.jobs.pipeline import run_job
from app.jobs.submit import request_generation
from app.models import GalleryExample, Job, JobItem, PresetModelUsage
from tests.conftest import auth_headers, create_preset, post_generate

SD_VERSION = "ddd4eb440853a42c055203289a3da0c8886b0b9492fe619b1c1dbd34be160ce7"

PROVIDER_CASES = [
    ("NANO_BANANA", {"aspect_ratio": "3:4", "output_format": "png"}, "google/nano-banana", "image_input"),
    (
        "FLUX_KONTEXT",
        {"output_format": "png", "safety_tolerance": 1},
        "black-forest-labs/flux-kontext-pro",
        "input_image",
    ),
    ("FLUX_PRO", {"aspect_ratio": "2:3", "prompt_upsampling": True}, "black-forest-labs/flux-1.1-pro", "image_prompt"),
    ("STABLE_DIFFUSION", {"negative_prompt": "blurry", "num_inference_steps": 30}, None, "image"),
]


@pytest.mark.parametrize("provider, settings, model, image_field", PROVIDER_CASES)
def test_each_provider_gets_its_model_input_and_our_storage_keeps_the_output(
    make_app, immediate_huey, replicate_server, provider, settings, model, image_field
):
    app = make_app(replicate=replicate_server)
    client = app.test_client()
    preset = create_preset(
        client, name=f"Preset {provider}", provider=provider, settings=settings, prompt="Moody film noir portrait"
    )
    response = post_generate(client, preset["id"])
    assert response.status_code == 202, response.get_json()
    assert "offline" not in response.get_json()["message"]

    creates = replicate_server.creates
    assert len(creates) == 20
    registry = app.extensions["pixelglow"].registry()
    for create in creates:
        if model:
            assert create["model"] == model
        else:
            assert create["version"] == SD_VERSION
        sent = create["input"]
        assert sent["prompt"] == "Moody film noir portrait"
        reference = sent[image_field]
        if provider == "NANO_BANANA":
            assert isinstance(reference, list) and len(reference) == 1
            reference = reference[0]
        assert reference in {m.s3_url for m in registry.all}
        for key, value in settings.items():
            assert sent[key] == value

    detail = client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).get_json()
    assert len(detail["gallery"]["items"]) == 20
    storage = app.extensions["pixelglow"].storage
    with app.app_context():
        for example in db.session.query(GalleryExample):
            assert replicate_server.url not in example.image_path and not example.offline
            assert example.prediction_id
            Image.open(storage.path_for(example.image_path)).verify()
    for item in detail["gallery"]["items"]:
        assert item["imageUrl"].startswith("/media/examples/")
    replicate_server.expire_outputs()  # Replicate deletes outputs after an hour; our copies stay
    assert client.get(detail["gallery"]["items"][0]["imageUrl"], headers=auth_headers()).status_code == 200


@pytest.mark.parametrize("queue", ["redis", "embedded"])
def test_progress_moves_through_the_seed_stages(make_app, immediate_huey, replicate_server, queue):
    replicate_server.latency = 0.05
    app = make_app(queue=queue, replicate=replicate_server)
    progress = app.extensions["pixelglow"].progress
    seen = []
    original_write = progress.write

    def spy(job_id, record, finished=False):
        original_write(job_id, record, finished)
        stored = progress.read(job_id)  # readable from the store while the job runs
        seen.append((stored["percent"], stored["stage"], stored["status"], stored["done"]))

    progress.write = spy
    client = app.test_client()
    preset = create_preset(client)
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]

    percents = [p for p, *_ in seen]
    assert percents == sorted(percents), "progress never goes backwards"
    stages = [s for _, s, *_ in seen]
    assert (10, "loading") in [(p, s) for p, s, *_ in seen]
    assert (20, "selecting") in [(p, s) for p, s, *_ in seen]
    assert any(20 < p < 80 and s == "generating" for p, s, *_ in seen)
    assert (85, "recording usage") in [(p, s) for p, s, *_ in seen]
    assert (90, "updating gallery") in [(p, s) for p, s, *_ in seen]
    assert seen[-1] == (100, "complete", "succeeded", 20)
    assert stages.index("loading") < stages.index("generating") < stages.index("complete")
    job = client.get(f"/api/admin/jobs/{job_id}", headers=auth_headers()).get_json()
    assert (job["done"], job["failed"], job["total"], job["status"]) == (20, 0, 20, "succeeded")
    assert {item["state"] for item in job["items"]} == {"succeeded"}
    assert all(item["predictionId"] for item in job["items"])


@pytest.mark.parametrize("database, queue", [("postgres", "redis"), ("sqlite", "embedded")])
def test_one_failing_prediction_makes_the_job_partial_and_releases_that_model(
    make_app, immediate_huey, replicate_server, database, queue
):
    lock = threading.Lock()
    failed_models = []

    def fail_first(model, payload):
        with lock:
            if failed_models:
                return False
            failed_models.append(payload["image_input"][0].rsplit("/", 1)[1].rsplit("_", 1)[0])
            return True

    replicate_server.fail_when = fail_first
    app = make_app(database=database, queue=queue, replicate=replicate_server)
    client = app.test_client()
    preset = create_preset(client)
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]

    job = client.get(f"/api/admin/jobs/{job_id}", headers=auth_headers()).get_json()
    assert job["status"] == "partial" and (job["done"], job["failed"]) == (19, 1)
    failed = [i for i in job["items"] if i["state"] == "failed"]
    assert [f["modelId"] for f in failed] == failed_models
    assert "simulated model failure" in failed[0]["error"]
    with app.app_context():
        assert db.session.query(GalleryExample).count() == 19
        usage = {u.model_id: u.state for u in db.session.query(PresetModelUsage)}
        assert len(usage) == 19 and failed_models[0] not in usage and set(usage.values()) == {"used"}
        assert "1 of 20 predictions failed" in db.session.get(Job, job_id).error


@pytest.mark.parametrize("database, queue", [("postgres", "redis"), ("sqlite", "embedded")])
def test_a_crashed_attempt_resumes_from_its_items_without_new_creates(
    make_app, replicate_server, monkeypatch, database, queue
):
    """The task raised after 8 stored items; running it again ends with 20 examples and 20 creates in all."""
    replicate_server.latency = 0.3
    app = make_app(database=database, queue=queue, replicate=replicate_server)
    services = app.extensions["pixelglow"]
    services.enqueue_job = lambda job_id: None
    preset = create_preset(app.test_client())
    storage = services.storage
    original_save = storage.save_stream
    saves = []

    def disk_full_after_eight(key, chunks):
        if key.endswith(("-thumb.webp", "-medium.webp")):  # an example's sizes: only its original counts here
            return original_save(key, chunks)
        if len(saves) >= 8:
            raise OSError(28, "No space left on device")
        saves.append(key)
        return original_save(key, chunks)

    with app.app_context():
        job_id = request_generation(app.extensions["pixelglow"], preset["id"], 1).job.id
        monkeypatch.setattr(storage, "save_stream", disk_full_after_eight)
        with pytest.raises(OSError):
            run_job(job_id, services)
        db.session.remove()
        assert db.session.query(GalleryExample).count() == 8
        assert db.session.query(JobItem).filter(JobItem.prediction_id.isnot(None)).count() == 20
        monkeypatch.setattr(storage, "save_stream", original_save)
        summary = run_job(job_id, services)

        assert summary["status"] == "succeeded" and summary["done"] == 20
        assert len(replicate_server.creates) == 20, "a resumed item polls its prediction instead of creating another"
        assert db.session.query(GalleryExample).count() == 20
        keys = {(e.model_id, e.example_index) for e in db.session.query(GalleryExample)}
        assert len(keys) == 20
        assert db.session.get(Job, job_id).attempts == 2
        assert db.session.query(PresetModelUsage).filter_by(state="used").count() == 20


def test_examples_per_model_makes_one_prediction_each(make_app, immediate_huey, replicate_server):
    app = make_app(replicate=replicate_server)
    client = app.test_client()
    preset = create_preset(client)
    response = post_generate(client, preset["id"], {"examplesPerModel": 2})
    assert response.status_code == 202
    assert len(replicate_server.creates) == 40
    detail = client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).get_json()
    assert detail["gallery"]["total"] == 40 and detail["usage"]["used"] == 20
