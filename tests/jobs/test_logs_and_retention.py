"""Structured log lines, progress retention, and pruning old jobs."""

import logging
from datetime import timedelta

from app.core.database import db
from app.jobs.progress import RETAIN_FINISHED
from app.models import GalleryExample, Job, utcnow
from tests.conftest import API_TOKEN, REPLICATE_TOKEN, auth_headers, create_preset, post_generate


def test_one_log_line_per_stage_and_item_with_ids_and_no_token(make_app, immediate_huey, replicate_server, caplog):
    caplog.set_level(logging.INFO, logger="app")
    app = make_app(replicate=replicate_server)
    client = app.test_client()
    preset = create_preset(client)
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("app.")]
    ours = [line for line in lines if f"job={job_id}" in line and f"preset={preset['id']}" in line]
    stages = [line for line in ours if " stage " in line]
    assert [line.split("stage=")[1].split()[0] for line in stages] == [
        "loading",
        "selecting",
        "generating",
        "recording",
        "updating",
        "complete",
    ]
    stored = [line for line in ours if " stored " in line]
    assert len(stored) == 20 and all("model=" in line and "prediction=" in line for line in stored)
    created = [line for line in ours if " created " in line]
    assert len(created) == 20
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert REPLICATE_TOKEN not in everything and API_TOKEN not in everything


def test_progress_of_the_last_100_finished_jobs_is_kept(make_app):
    app = make_app()
    progress = app.extensions["pixelglow"].progress
    for n in range(RETAIN_FINISHED + 5):
        progress.write(f"job-{n}", {"status": "succeeded", "n": n}, finished=True)
    progress.write("live-job", {"status": "running"})
    assert progress.read("job-0") is None and progress.read("job-4") is None
    assert progress.read("job-5")["n"] == 5 and progress.read(f"job-{RETAIN_FINISHED + 4}") is not None
    assert progress.read("live-job") is not None
    assert progress.redis.ttl("pixelglow:progress:job-50") > 0, "every record expires on its own"


def test_a_stale_running_record_falls_back_to_the_database(make_app):
    app = make_app()
    client = app.test_client()
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    preset = create_preset(client)
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    stale = (utcnow() - timedelta(hours=1)).isoformat() + "Z"
    app.extensions["pixelglow"].progress.write(
        job_id, {"jobId": job_id, "status": "running", "percent": 50, "updatedAt": stale}
    )
    job = client.get(f"/api/admin/jobs/{job_id}", headers=auth_headers()).get_json()
    assert job["status"] == "queued" and job["percent"] == 0, "the row, not a dead worker's last word"


def test_jobs_prune_removes_old_finished_jobs_and_keeps_examples(make_app, immediate_huey):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    old_job = post_generate(client, preset["id"]).get_json()["jobId"]
    new_job = post_generate(client, preset["id"]).get_json()["jobId"]
    with app.app_context():
        db.session.get(Job, old_job).finished_at = utcnow() - timedelta(days=40)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["jobs", "prune", "--older-than", "30"])
    assert result.exit_code == 0 and "Removed 1 finished jobs" in result.output
    with app.app_context():
        assert db.session.get(Job, old_job) is None and db.session.get(Job, new_job) is not None
        assert db.session.query(GalleryExample).count() == 40
    bad = app.test_cli_runner().invoke(args=["jobs", "prune", "--older-than", "-1"])
    assert bad.exit_code != 0
