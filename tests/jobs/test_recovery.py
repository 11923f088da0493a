"""The sweep for lost jobs: re-queued once however many consumers sweep, failed when it never progresses."""

import threading
from datetime import timedelta

from sqlalchemy import update

from app.core.database import db
from app.jobs.recovery import sweep_stale_jobs
from app.models import Job, PresetModelUsage, utcnow
from tests.conftest import auth_headers, create_preset, post_generate


def lost_job(app):
    """A job whose worker died: marked running, heartbeat long gone, no task in the queue."""
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    client = app.test_client()
    preset = create_preset(client)
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    with app.app_context():
        db.session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status="running", lease_owner="dead-worker", heartbeat_at=utcnow() - timedelta(minutes=5))
        )
        db.session.commit()
    return job_id


def test_two_consumers_sweeping_at_once_requeue_a_lost_job_once(make_app):
    app = make_app(JOB_STALE_SECONDS="2")
    job_id = lost_job(app)
    enqueued = []
    barrier = threading.Barrier(2)

    def sweeper():
        with app.app_context():
            barrier.wait()
            sweep_stale_jobs(app.extensions["pixelglow"], lambda: [], enqueued.append)

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert enqueued == [job_id]


def test_a_job_waiting_in_the_queue_is_not_lost(make_app):
    app = make_app(JOB_STALE_SECONDS="2")
    job_id = lost_job(app)
    enqueued = []
    with app.app_context():
        assert sweep_stale_jobs(app.extensions["pixelglow"], lambda: [job_id], enqueued.append) == []
    assert enqueued == []


def test_a_job_requeued_without_progress_too_often_is_failed_with_the_reason(make_app):
    app = make_app(JOB_STALE_SECONDS="2", MAX_STALLED_REQUEUES="5")
    job_id = lost_job(app)
    services = app.extensions["pixelglow"]
    enqueued = []
    with app.app_context():
        for _ in range(10):
            # the re-queued task dies again at once: nothing moves, time passes
            db.session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(heartbeat_at=utcnow() - timedelta(minutes=5), requeued_at=utcnow() - timedelta(minutes=1))
            )
            db.session.commit()
            sweep_stale_jobs(services, lambda: [], enqueued.append)
        job = db.session.get(Job, job_id)
        assert len(enqueued) == 6, "the first re-queue plus five without progress"
        assert job.status == "failed" and "without progress" in job.error
        assert {i.state for i in job.items} == {"failed"}
        assert db.session.query(PresetModelUsage).count() == 0, "its models are released"
    job_json = app.test_client().get(f"/api/admin/jobs/{job_id}", headers=auth_headers()).get_json()
    assert job_json["status"] == "failed"
