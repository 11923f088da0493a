"""End to end in offline mode: the API queues a job, the pipeline stores 20 labelled placeholders."""

import pytest
from PIL import Image

from app.core.database import db
from app.models import GalleryExample, Job, PresetModelUsage
from tests.conftest import auth_headers, create_preset, post_generate


@pytest.mark.parametrize("database, queue", [("postgres", "redis"), ("sqlite", "embedded")])
def test_offline_job_stores_twenty_labelled_examples(make_app, immediate_huey, database, queue):
    app = make_app(database=database, queue=queue)
    client = app.test_client()
    preset = create_preset(client)

    response = post_generate(client, preset["id"])
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["success"] is True and body["presetId"] == preset["id"] and body["examplesPerModel"] == 1
    assert "offline" in body["message"]

    job = client.get(f"/api/admin/jobs/{body['jobId']}", headers=auth_headers()).get_json()
    assert job["status"] == "succeeded" and job["done"] == 20 and job["failed"] == 0 and job["percent"] == 100
    assert job["offline"] is True

    detail = client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).get_json()
    assert len(detail["gallery"]["items"]) == detail["gallery"]["total"] == 20 and detail["gallery"]["next"] is None
    assert all(example["offline"] for example in detail["gallery"]["items"])
    assert detail["usage"] == {"used": 20, "reserved": 0, "total": 72}
    assert detail["lastGenerated"] is not None
    with app.app_context():
        example = db.session.query(GalleryExample).first()
        path = app.extensions["pixelglow"].storage.path_for(example.image_path)
        assert Image.open(path).size == (512, 640)
        assert db.session.query(PresetModelUsage).filter_by(state="used").count() == 20
        assert db.session.get(Job, body["jobId"]).attempts == 1
    image = client.get(detail["gallery"]["items"][0]["imageUrl"], headers=auth_headers())
    assert image.status_code == 200 and image.mimetype == "image/png"
