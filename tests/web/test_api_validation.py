"""Bad input to the JSON API gets a clear 4xx and leaves nothing behind."""

import json

import pytest

from app.core.database import db
from app.models import GalleryExample, Job, JobItem, Preset, PresetModelUsage
from tests.conftest import auth_headers, create_preset, post_generate
from tests.factories import stored_example


def nothing_stored(app):
    with app.app_context():
        return all(db.session.query(model).count() == 0 for model in (Job, JobItem, PresetModelUsage, GalleryExample))


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"examplesPerModel": 0}, "between 1 and 4"),
        ({"examplesPerModel": 5}, "between 1 and 4"),
        ({"examplesPerModel": "x"}, "whole number"),
        ({"examplesPerModel": "1"}, "whole number"),
        ({"examplesPerModel": True}, "whole number"),
        ({"examplesPerModel": 1.5}, "whole number"),
        ({"examplesPerModel": 1.0}, "whole number"),
        ({"examplesPerModel": None}, "whole number"),
        ({"examplesPerModel": 1, "extra": 2}, "Unknown field"),
        ([1], "JSON object"),
        ("text", "JSON object"),
    ],
)
def test_generate_refuses_bad_bodies(make_app, body, fragment):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    queued = []
    app.extensions["pixelglow"].enqueue_job = queued.append
    response = post_generate(client, preset["id"], body)
    assert response.status_code == 400
    data = response.get_json()
    assert data["success"] is False and fragment in data["error"]
    assert not queued and nothing_stored(app)


def test_generate_refuses_a_missing_or_non_json_body_and_accepts_an_empty_object(make_app):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    queued = []
    app.extensions["pixelglow"].enqueue_job = queued.append
    url = f"/api/admin/presets/{preset['id']}/generate-examples"
    missing = client.post(url, headers=auth_headers())
    assert missing.status_code == 400 and "must be a JSON object" in missing.get_json()["error"]
    not_json = client.post(
        url, data="examplesPerModel=1", headers=auth_headers(), content_type="application/x-www-form-urlencoded"
    )
    assert not_json.status_code == 400 and "JSON" in not_json.get_json()["error"]
    broken = client.post(url, data="{nope", headers=auth_headers(), content_type="application/json")
    assert broken.status_code == 400 and "not valid JSON" in broken.get_json()["error"]
    assert not queued and nothing_stored(app)
    defaults = client.post(url, json={}, headers=auth_headers())
    assert defaults.status_code == 202 and defaults.get_json()["examplesPerModel"] == 1
    assert queued == [defaults.get_json()["jobId"]]


def test_unknown_preset_and_bad_tokens(make_app):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    queued = []
    app.extensions["pixelglow"].enqueue_job = queued.append
    unknown = client.post("/api/admin/presets/nope/generate-examples", json={}, headers=auth_headers())
    assert unknown.status_code == 404 and "No preset" in unknown.get_json()["error"]
    url = f"/api/admin/presets/{preset['id']}/generate-examples"
    missing = client.post(url, json={"examplesPerModel": 1})
    assert missing.status_code == 401 and "Bearer" in missing.get_json()["error"]
    wrong = client.post(url, json={"examplesPerModel": 1}, headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401 and "wrong" in wrong.get_json()["error"]
    assert client.get("/api/admin/jobs/nope", headers=auth_headers()).status_code == 404
    assert not queued and nothing_stored(app)


def test_queue_down_answers_503_and_leaves_nothing(make_app):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)

    def broken_queue(job_id):
        raise ConnectionError("Redis is down")

    app.extensions["pixelglow"].enqueue_job = broken_queue
    response = post_generate(client, preset["id"], {})
    assert response.status_code == 503 and "unavailable" in response.get_json()["error"]
    assert int(response.headers["Retry-After"]) > 0
    assert nothing_stored(app)


def test_preset_crud_and_validation(make_app):
    app = make_app()
    client = app.test_client()
    bad = client.post("/api/admin/presets", json={"name": "", "prompt": "x"}, headers=auth_headers())
    assert bad.status_code == 400 and "name" in bad.get_json()["error"]
    bad_provider = client.post(
        "/api/admin/presets", json={"name": "A", "prompt": "x", "provider": "DALL_E"}, headers=auth_headers()
    )
    assert bad_provider.status_code == 400 and "provider must be one of" in bad_provider.get_json()["error"]
    bad_setting = client.post(
        "/api/admin/presets",
        json={"name": "A", "prompt": "x", "provider": "FLUX_PRO", "settings": {"output_format": "gif"}},
        headers=auth_headers(),
    )
    assert bad_setting.status_code == 400 and "output_format" in bad_setting.get_json()["error"]
    preset = create_preset(client, name="Film Noir")
    assert preset["usage"] == {"used": 0, "reserved": 0, "total": 72} and preset["gallery"]["items"] == []
    duplicate = client.post("/api/admin/presets", json={"name": "Film Noir", "prompt": "x"}, headers=auth_headers())
    assert duplicate.status_code == 409
    patched = client.patch(
        f"/api/admin/presets/{preset['id']}",
        json={"provider": "FLUX_KONTEXT", "settings": {"safety_tolerance": 1}},
        headers=auth_headers(),
    )
    assert patched.status_code == 200 and patched.get_json()["provider"] == "FLUX_KONTEXT"
    listed = client.get("/api/admin/presets", headers=auth_headers()).get_json()["presets"]
    assert [p["name"] for p in listed] == ["Film Noir"] and listed[0]["examplesCount"] == 0
    assert client.delete(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).status_code == 200
    assert client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).status_code == 404


def test_deleting_a_preset_with_a_live_job_is_refused(make_app):
    app = make_app()
    client = app.test_client()
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None  # queued, never run
    preset = create_preset(client)
    assert post_generate(client, preset["id"]).status_code == 202
    response = client.delete(f"/api/admin/presets/{preset['id']}", headers=auth_headers())
    assert response.status_code == 409 and "in progress" in response.get_json()["error"]


@pytest.mark.parametrize(
    "name",
    ["Evil\x1b[2J\x1b[H", "Title\x1b]0;pwned\x07", "Two\nlines", "Tab\there", "Del\x7fete", "C1\x9bcsi"],
)
def test_control_characters_in_a_preset_name_are_refused_by_the_api_and_the_form_naming_the_field(admin_client, name):
    api = admin_client.post("/api/admin/presets", json={"name": name, "prompt": "x"}, headers=auth_headers())
    assert api.status_code == 400 and api.get_json()["error"].startswith("name must not contain control characters")
    form = admin_client.post(
        "/admin/presets/new",
        data={"csrf_token": admin_client.csrf, "name": name, "prompt": "x", "provider": "NANO_BANANA"},
    )
    page = form.get_data(as_text=True)
    assert form.status_code == 400 and 'id="name-error"' in page and "Name must not contain control characters" in page
    preset = create_preset(admin_client, name="Fine")
    patched = admin_client.patch(f"/api/admin/presets/{preset['id']}", json={"name": name}, headers=auth_headers())
    assert patched.status_code == 400 and "name must not contain" in patched.get_json()["error"]
    with admin_client.application.app_context():
        assert db.session.query(Preset).count() == 1


def test_a_prompt_keeps_its_line_breaks_and_tabs_but_not_escape_sequences(admin_client):
    prompt = "Portrait, studio light\n\tno glasses\r\nsoft shadows"
    assert create_preset(admin_client, name="Multi-line", prompt=prompt)["prompt"] == prompt
    form = admin_client.post(
        "/admin/presets/new",
        data={"csrf_token": admin_client.csrf, "name": "Form", "prompt": prompt, "provider": "NANO_BANANA"},
    )
    assert form.status_code == 303
    refused = admin_client.post(
        "/api/admin/presets", json={"name": "Bell", "prompt": "ring \x07 ring"}, headers=auth_headers()
    )
    assert refused.status_code == 400
    assert refused.get_json()["error"] == (
        "prompt must not contain control characters (tabs and line breaks are fine): found U+0007 at character 6."
    )


@pytest.mark.parametrize(
    "body",
    ['{"a":NaN}', "[" * 5000 + "]" * 5000, '{"a": 1}', "[]", "null", "{nope", "nul\u0000l", "examplesPerModel=1"],
)
def test_a_route_that_takes_no_body_refuses_one_with_400_before_it_acts(make_app, body):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    example_id = stored_example(app, preset["id"], "male_02")
    queued = []
    app.extensions["pixelglow"].enqueue_job = queued.append
    sent = {"data": body.encode(), "headers": auth_headers(), "content_type": "application/json"}

    regenerate = client.post(f"/api/admin/presets/{preset['id']}/examples/{example_id}/regenerate", **sent)
    assert regenerate.status_code == 400 and "takes no body" in regenerate.get_json()["error"]
    delete = client.delete(f"/api/admin/presets/{preset['id']}", **sent)
    assert delete.status_code == 400 and "takes no body" in delete.get_json()["error"]
    listing = client.get("/api/admin/presets", **sent)
    assert listing.status_code == 400
    multipart = b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--b--\r\n'
    for form, data in (
        ("application/x-www-form-urlencoded", b"examplesPerModel=1"),
        ("multipart/form-data; boundary=b", multipart),
    ):
        sent.update(content_type=form, data=data)
        assert client.delete(f"/api/admin/presets/{preset['id']}", **sent).status_code == 400

    assert not queued and client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).status_code == 200
    with app.app_context():
        assert db.session.query(Job).count() == 1  # the finished job that made the example; no regeneration


def test_a_route_that_takes_no_body_accepts_none_or_an_empty_object(make_app):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    example_id = stored_example(app, preset["id"], "male_02")
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    url = f"/api/admin/presets/{preset['id']}/examples/{example_id}/regenerate"
    for body, blank in (({}, " \r\n"), (b"{ }", None)):
        queued = client.post(url, data=json.dumps(body) if isinstance(body, dict) else body, headers=auth_headers())
        assert queued.status_code == 202
        cancel = client.post(f"/api/admin/jobs/{queued.get_json()['jobId']}/cancel", data=blank, headers=auth_headers())
        assert cancel.status_code == 202
    assert client.delete(f"/api/admin/presets/{preset['id']}", json={}, headers=auth_headers()).status_code == 200


def test_json_and_csv_answers_are_kept_by_no_cache_and_the_feed_keeps_its_own_rules(make_app):
    app = make_app(GALLERY_FEED_PUBLIC="1")
    client = app.test_client()
    preset = create_preset(client)
    answers = {
        "listing": client.get("/api/admin/presets", headers=auth_headers()),
        "preset": client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()),
        "refusal": client.get("/api/admin/jobs/nosuchjob", headers=auth_headers()),
        "spend": client.get("/api/admin/spend", headers=auth_headers()),
        "csv": client.get("/admin/analytics/models.csv", headers=auth_headers()),
    }
    assert answers["csv"].mimetype == "text/csv" and answers["refusal"].status_code == 404
    assert {name: r.headers.get("Cache-Control") for name, r in answers.items()} == dict.fromkeys(answers, "no-store")
    feed = client.get(f"/api/presets/{preset['id']}/gallery")
    assert feed.status_code == 200 and "public" in feed.headers["Cache-Control"]
