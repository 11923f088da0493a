"""Redis or the database unreachable when a job is requested: 503 with a message, nothing half-written."""

import shutil
import subprocess
import time

import pytest
import redis as redis_lib

from app.core.database import db
from app.models import Job, JobItem, PresetModelUsage
from tests.conftest import auth_headers, create_preset, post_generate
from tests.helpers import free_port
from tests.live_stack import isolated_queue
from tests.tcp_proxy import TcpProxy


class PrivateRedis:
    """A redis-server of the test's own on a free port: stopping it never touches the machine's Redis."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.dir = tmp_path / "redis"
        self.dir.mkdir()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis_lib.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return self
            except redis_lib.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("private redis-server did not start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path).start()
    yield server
    server.stop()


def rows(app) -> dict:
    with app.app_context():
        counts = {m.__name__: db.session.query(m).count() for m in (Job, JobItem, PresetModelUsage)}
        db.session.remove()
        return counts


def test_redis_unreachable_gives_503_and_leaves_nothing(make_app, private_redis):
    with isolated_queue(private_redis.url):
        app = make_app(queue=private_redis.url)
        client = app.test_client()
        preset = create_preset(client)
        private_redis.stop()
        response = post_generate(client, preset["id"])
        assert response.status_code == 503
        assert "Redis" in response.get_json()["error"] and response.get_json()["success"] is False
        assert rows(app) == {"Job": 0, "JobItem": 0, "PresetModelUsage": 0}

        private_redis.start()
        response = post_generate(client, preset["id"])
        assert response.status_code == 202
        assert rows(app) == {"Job": 1, "JobItem": 20, "PresetModelUsage": 20}
        assert redis_lib.Redis.from_url(private_redis.url).llen("huey.redis.examplegeneration") == 1


def test_database_unreachable_gives_503_and_leaves_nothing(make_app, pg_database):
    proxy = TcpProxy("127.0.0.1", 5432)
    try:
        proxied = pg_database.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        direct = make_app()
        preset = create_preset(direct.test_client())
        app = make_app(database=proxied)
        queued = []
        app.extensions["pixelglow"].enqueue_job = queued.append
        client = app.test_client()
        assert client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).status_code == 200

        proxy.cut()
        response = post_generate(client, preset["id"])
        assert response.status_code == 503
        assert "database is unavailable" in response.get_json()["error"]
        listing = client.get("/api/admin/presets", headers=auth_headers())
        assert listing.status_code == 503 and listing.get_json()["success"] is False
        assert not queued and rows(direct) == {"Job": 0, "JobItem": 0, "PresetModelUsage": 0}

        proxy.restore()
        response = post_generate(client, preset["id"])
        assert response.status_code == 202, response.get_json()
        assert rows(direct) == {"Job": 1, "JobItem": 20, "PresetModelUsage": 20} and len(queued) == 1
    finally:
        proxy.close()


def test_redis_restarting_while_a_job_runs_the_job_finishes_and_progress_catches_up(
    make_app, private_redis, replicate_server
):
    import threading

    from app.jobs.pipeline import run_job

    replicate_server.latency = 0.5
    with isolated_queue(private_redis.url):
        app = make_app(queue=private_redis.url, replicate=replicate_server)
        services = app.extensions["pixelglow"]
        services.enqueue_job = lambda job_id: None
        client = app.test_client()
        preset = create_preset(client)
        job_id = post_generate(client, preset["id"]).get_json()["jobId"]
        outcome = {}

        def work():
            with app.app_context():
                outcome["summary"] = run_job(job_id, services)

        worker = threading.Thread(target=work)
        worker.start()
        time.sleep(0.2)
        private_redis.stop()  # down from mid-job until after the last prediction finished
        time.sleep(1.5)
        private_redis.start()
        worker.join(timeout=60)
        assert outcome["summary"]["status"] == "succeeded" and outcome["summary"]["done"] == 20
        record = services.progress.read(job_id)
        assert record["status"] == "succeeded" and record["percent"] == 100 and len(record["examples"]) == 20
