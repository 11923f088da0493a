"""Accountable admins (who started a job, changed a preset, cleared usage, deleted; named API tokens that
can be revoked), private media (no shared caching, no cookie) and private files under instance/."""

from __future__ import annotations

import os
import stat

from flask_migrate import upgrade as migrate_upgrade

from app import create_app
from app.core.config import load_settings
from app.core.database import db
from app.tasks import enqueue_job, queue_storage
from tests.conftest import (
    ADMIN_EMAIL,
    API_TOKEN,
    auth_headers,
    base_env,
    create_admin,
    create_preset,
    post_generate,
    sign_in,
)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def new_token(app, name: str) -> str:
    result = app.test_cli_runner().invoke(args=["tokens", "create", name])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_a_job_shows_who_started_it(admin_client, immediate_huey):
    app = admin_client.application
    preset = create_preset(admin_client)
    mine = admin_client.post(
        f"/admin/presets/{preset['id']}/generate", data={"examples_per_model": "1", "csrf_token": admin_client.csrf}
    )
    job_by_admin = mine.headers["Location"].rsplit("/", 1)[-1]
    token = new_token(app, "deploy-bot")
    scripted = app.test_client().post(
        f"/api/admin/presets/{preset['id']}/generate-examples", json={"examplesPerModel": 1}, headers=bearer(token)
    )
    assert scripted.status_code == 202
    job_by_token = scripted.get_json()["jobId"]
    env_job = post_generate(app.test_client(), preset["id"]).get_json()["jobId"]
    assert ADMIN_EMAIL in admin_client.get(f"/admin/jobs/{job_by_admin}").get_data(as_text=True)
    assert "token deploy-bot" in admin_client.get(f"/admin/jobs/{job_by_token}").get_data(as_text=True)
    jobs_page = admin_client.get("/admin/jobs").get_data(as_text=True)
    assert ADMIN_EMAIL in jobs_page and "token deploy-bot" in jobs_page and "token ADMIN_API_TOKEN" in jobs_page
    api = app.test_client().get(f"/api/admin/jobs/{env_job}", headers=auth_headers()).get_json()
    assert api["createdBy"] == "token ADMIN_API_TOKEN"
    cli = app.test_cli_runner().invoke(args=["generate", preset["id"]])
    assert cli.exit_code == 0 and "cli" in admin_client.get("/admin/jobs").get_data(as_text=True)


def test_named_tokens_work_until_revoked_and_the_environment_token_still_works(admin_app):
    client = admin_app.test_client()
    first, second = new_token(admin_app, "ci"), new_token(admin_app, "backup")
    assert first.startswith("pgt_") and first != second
    assert client.get("/api/admin/presets", headers=bearer(first)).status_code == 200
    listed = admin_app.test_cli_runner().invoke(args=["tokens", "list"]).output
    assert "ci" in listed and "backup" in listed and first not in listed and "active" in listed
    revoked = admin_app.test_cli_runner().invoke(args=["tokens", "revoke", "ci"])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/admin/presets", headers=bearer(first)).status_code == 401
    assert client.get("/api/admin/presets", headers=bearer(second)).status_code == 200  # rotation without downtime
    assert client.get("/api/admin/presets", headers=bearer(API_TOKEN)).status_code == 200
    assert "revoked" in admin_app.test_cli_runner().invoke(args=["tokens", "list"]).output
    with admin_app.app_context():
        stored = db.session.execute(db.text("SELECT token_hash FROM api_tokens")).scalars().all()
        assert first not in stored and second not in stored  # only hashes


def test_preset_changes_usage_clears_and_deletions_record_who_did_them(admin_client):
    app = admin_client.application
    token = new_token(app, "editor-bot")
    preset = create_preset(app.test_client(), name="Audited")
    patched = app.test_client().patch(
        f"/api/admin/presets/{preset['id']}", json={"prompt": "new prompt"}, headers=bearer(token)
    )
    assert patched.status_code == 200
    assert patched.get_json()["updatedBy"] == "token editor-bot"
    assert patched.get_json()["createdBy"] == "token ADMIN_API_TOKEN"
    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert "token editor-bot" in page
    cleared = admin_client.post(f"/admin/presets/{preset['id']}/clear-usage", data={"csrf_token": admin_client.csrf})
    assert cleared.status_code == 303
    deleted = admin_client.post(f"/admin/presets/{preset['id']}/delete", data={"csrf_token": admin_client.csrf})
    assert deleted.status_code == 303
    activity = admin_client.get("/admin/activity").get_data(as_text=True)
    for sentence in (
        "token ADMIN_API_TOKEN</span> created preset Audited",
        "token editor-bot</span> edited preset Audited",
        f"{ADMIN_EMAIL}</span> cleared the model usage of Audited",
        f"{ADMIN_EMAIL}</span> deleted preset Audited",
    ):
        assert sentence in activity, sentence


def test_media_is_private_and_carries_no_cookie(admin_client):
    storage = admin_client.application.extensions["pixelglow"].storage
    storage.save_bytes("examples/p1/j1/m-0.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    response = admin_client.get("/media/examples/p1/j1/m-0.png")
    assert response.status_code == 200
    cache = response.headers["Cache-Control"]
    assert "private" in cache and "public" not in cache, cache
    assert "Set-Cookie" not in response.headers
    missing = admin_client.get("/media/examples/p1/j1/nope.png")
    assert missing.status_code == 404 and "Set-Cookie" not in missing.headers


def test_everything_created_under_instance_is_private(tmp_path, redis_client, immediate_huey):
    instance = tmp_path / "instance"
    env = base_env(instance)
    del env["SECRET_KEY"]  # development: generated into instance/
    settings = load_settings(env)  # the default SQLite file and the embedded stores, all in instance/
    app = create_app(settings, {"TESTING": True}, enqueue=enqueue_job)
    with app.app_context():
        migrate_upgrade()
    queue_storage(settings).queue_size()  # the embedded queue's file
    create_admin(app)
    client = app.test_client()
    sign_in(client)
    preset = create_preset(client)
    assert post_generate(client, preset["id"]).status_code == 202  # placeholders into instance/media
    with app.app_context():
        db.engine.dispose()
    found = []
    for folder, dirs, files in os.walk(instance):
        found += [(os.path.join(folder, d), 0o700) for d in dirs] + [(os.path.join(folder, f), 0o600) for f in files]
    found.append((str(instance), 0o700))
    names = {os.path.basename(p) for p, _ in found}
    assert {"dev-secrets.json", "pixelglow.sqlite3", "progress.sqlite3", "queue.sqlite3", "media"} <= names, names
    wrong = {p: oct(stat.S_IMODE(os.stat(p).st_mode)) for p, mode in found if stat.S_IMODE(os.stat(p).st_mode) != mode}
    assert not wrong, wrong
