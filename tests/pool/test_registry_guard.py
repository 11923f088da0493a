"""A broken models.json never surprises: web and consumer refuse to start naming the file and every problem;
broken while running, the last good registry stays in use and every admin page says what is wrong;
`models check` names the problems, warns on a registry that is valid but short, and asks every URL."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from select import select as wait_for_readable

import pytest
from sqlalchemy import delete, func, select

from app import create_app
from app.core.config import load_settings
from app.core.database import db
from app.models import Job, Preset
from app.pool.registry import RegistryError
from app.tasks import enqueue_job
from tests import factories
from tests.conftest import (
    REDIS_TEST_URL,
    auth_headers,
    base_env,
    create_admin,
    create_preset,
    post_generate,
    sign_in,
    wait_for_job,
)
from tests.helpers import PROJECT, flask_cli, self_signed_certificate
from tests.live_stack import Consumer

BIN = Path(sys.executable).parent
SEED = json.loads((PROJECT / "models.json").read_text())


def seed_copy() -> dict:
    return json.loads(json.dumps(SEED))


def registry(male: int, female: int, url=lambda gender, n: f"https://models.example/{gender}/{n:02d}.png") -> dict:
    return {
        g: [{"id": f"{g}_{n:02d}", "gender": g, "s3Url": url(g, n)} for n in range(1, count + 1)]
        for g, count in (("male", male), ("female", female))
    }


def with_duplicate_key(path: Path) -> None:
    path.write_text('{"male": [], "male": [], "female": []}')


BROKEN = {
    "invalid JSON": (lambda p: p.write_text('{"male": [}'), "not valid JSON (line 1, column 11"),
    "wrong shape": (lambda p: p.write_text(json.dumps({"male": {}, "female": []})), "'male' must be a list"),
    "a duplicate id": (
        lambda p: p.write_text(json.dumps({**SEED, "female": SEED["female"] + [dict(SEED["female"][0])]})),
        "female[36] (id 'female_01') is a duplicate id",
    ),
    "a bad URL": (
        lambda p: p.write_text(json.dumps(registry(10, 10, url=lambda g, n: f"https://host.example/{g} {n}.png"))),
        "male[0] (id 'male_01') has s3Url 'https://host.example/male 1.png'; it must be an https:// URL",
    ),
    "an id no URL can carry": (
        lambda p: p.write_text(json.dumps({**SEED, "male": [{**SEED["male"][0], "id": "male 01/x"}]})),
        "male[0] (id 'male 01/x') has id 'male 01/x'; ids are 1 to 64 letters, digits",
    ),
    "a key twice": (with_duplicate_key, "the key 'male' appears twice in one object"),
    "no file": (lambda p: p.unlink(), "cannot read the models file (No such file or directory)"),
}


@pytest.fixture
def models_file(tmp_path) -> Path:
    path = tmp_path / "registry" / "models.json"
    path.parent.mkdir()
    path.write_text(json.dumps(SEED))
    return path


def cli_env(tmp_path: Path, pg_database: str, models_file: Path) -> dict:
    """A `flask --app wsgi` / `huey_consumer` subprocess's environment, this worktree's code first."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(PROJECT),
        **base_env(tmp_path / "cli-instance", DATABASE_URL=pg_database, REDIS_URL=REDIS_TEST_URL),
        "MODELS_FILE": str(models_file),
    }


# -- refusing to start --------------------------------------------------------------------------------


@pytest.mark.fast
@pytest.mark.parametrize("kind", list(BROKEN))
def test_create_app_refuses_a_broken_file_naming_it_and_the_problem(tmp_path, models_file, kind):
    breaks, problem = BROKEN[kind]
    breaks(models_file)
    settings = load_settings(base_env(tmp_path / "instance", MODELS_FILE=str(models_file), REDIS_URL=REDIS_TEST_URL))
    with pytest.raises(RegistryError) as refused:
        create_app(settings, enqueue=enqueue_job)
    assert str(refused.value).startswith("models.json: ") and problem in str(refused.value)
    assert refused.value.status == 503  # were it ever met in a request: a message, not a generic 500
    refusal = refused.value.refusal(models_file, "the web app")
    assert f"Cannot start the web app: the models file {models_file} is broken:" in refusal and problem in refusal


@pytest.mark.fast
def test_a_schema_check_names_every_problem_at_once(tmp_path, models_file):
    data = seed_copy()
    data["male"][3]["s3Url"] = "http://insecure.example/x.png"
    data["female"][5]["gender"] = "male"
    del data["female"][9]["s3Url"]
    data["male"][8]["id"] = "male_01"
    data["extra"] = []
    models_file.write_text(json.dumps(data))
    settings = load_settings(base_env(tmp_path / "instance", MODELS_FILE=str(models_file), REDIS_URL=REDIS_TEST_URL))
    with pytest.raises(RegistryError) as refused:
        create_app(settings, enqueue=enqueue_job)
    assert refused.value.problems == [
        "unexpected keys ['extra']; only 'male' and 'female' are allowed",
        "male[3] (id 'male_04') has s3Url 'http://insecure.example/x.png'; "
        "it must be an https:// URL with a host and a path",
        "female[5] (id 'female_06') has gender 'male' but is listed under 'female'",
        "female[9] (id 'female_10') has no s3Url",
        "male[8] (id 'male_01') is a duplicate id",
    ]
    assert "(and 4 more: `flask --app wsgi models check` lists them)" in str(refused.value)


def run(args: list[str], env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout)


def test_flask_commands_refuse_to_start_but_models_check_and_doctor_say_what_is_wrong(
    tmp_path, pg_database, models_file
):
    BROKEN["a duplicate id"][0](models_file)
    env = cli_env(tmp_path, pg_database, models_file)

    routes = flask_cli(env, "routes", timeout=60)
    assert routes.returncode == 4, routes
    assert f"Cannot start the web app: the models file {models_file} is broken:" in routes.stderr
    assert "  - female[36] (id 'female_01') is a duplicate id" in routes.stderr
    assert "Traceback" not in routes.stderr

    check = flask_cli(env, "models", "check", timeout=60)
    assert check.returncode == 1, check
    assert f"{models_file} is broken (1 problem):\n  - female[36] (id 'female_01') is a duplicate id" in check.stderr

    doctor = flask_cli(env, "doctor", timeout=60)
    assert doctor.returncode == 1, doctor
    assert "FAIL  registry" in doctor.stdout and "female[36] (id 'female_01') is a duplicate id" in doctor.stdout
    assert "no registry is loaded" in doctor.stdout
    assert "fix: fix models.json (`flask --app wsgi models check` lists every problem)" in doctor.stdout


def test_gunicorn_refuses_a_broken_file_before_forking(tmp_path, pg_database, models_file):
    BROKEN["invalid JSON"][0](models_file)
    env = cli_env(tmp_path, pg_database, models_file)
    started = time.monotonic()
    result = run([str(BIN / "gunicorn"), "-w", "2", "-b", "127.0.0.1:0", "wsgi:app"], env, timeout=30)
    assert result.returncode != 0 and time.monotonic() - started < 10, result
    assert result.stderr.count(f"the models file {models_file} is broken") == 1, result.stderr
    assert "not valid JSON (line 1, column 11" in result.stderr
    assert "Booting worker" not in result.stderr


def test_the_consumer_refuses_to_start_naming_the_file(tmp_path, pg_database, models_file):
    BROKEN["wrong shape"][0](models_file)
    env = cli_env(tmp_path, pg_database, models_file)
    result = run([str(BIN / "huey_consumer"), "app.tasks.huey", "-w", "2", "-k", "thread"], env, timeout=30)
    assert result.returncode == 1, result
    assert f"Cannot start the consumer: the models file {models_file} is broken:" in result.stderr
    assert "  - 'male' must be a list of models" in result.stderr
    assert "Traceback" not in result.stderr


# -- broken while running ------------------------------------------------------------------------------


def test_broken_while_running_the_last_good_registry_is_used_and_pages_warn(make_app, models_file, immediate_huey):
    app = make_app(MODELS_FILE=str(models_file))
    create_admin(app)
    client = app.test_client()
    sign_in(client)
    preset = create_preset(client)
    page = client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert 'id="registry-problem"' not in page

    BROKEN["a bad URL"][0](models_file)
    page = client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert 'id="registry-problem"' in page
    assert "models.json is broken:</strong> male[0] (id &#39;male_01&#39;) has s3Url" in page
    assert "(and 19 more)" in page and "the last good registry (72 models)" in page
    assert "models.json is broken" in client.get("/admin/presets").get_data(as_text=True)

    queued = post_generate(client, preset["id"])
    assert queued.status_code == 202, queued.get_json()
    job = wait_for_job(app, queued.get_json()["jobId"])
    assert job.status == "succeeded" and job.total == 20
    assert queued.get_json()["models"] == {"male": 10, "female": 10}  # from the 72 of the last good file

    models_file.unlink()  # gone altogether: still the last good registry
    assert client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).get_json()["usage"]["total"] == 72
    assert "cannot read the models file" in client.get("/admin/presets").get_data(as_text=True)

    models_file.write_text(json.dumps(registry(12, 12)))  # fixed: the new file is used, the warning goes
    page = client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert 'id="registry-problem"' not in page
    assert client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).get_json()["usage"]["total"] == 24


def test_a_consumer_started_on_a_good_file_keeps_generating_after_it_breaks(make_app, tmp_path, models_file):
    app = make_app(MODELS_FILE=str(models_file))
    client = app.test_client()
    preset = create_preset(client)
    consumer = Consumer(app.config["TEST_ENV"] | {"REDIS_URL": REDIS_TEST_URL}, tmp_path / "consumer.log", workers=2)
    consumer.start(app.extensions["pixelglow"].progress)
    try:
        BROKEN["invalid JSON"][0](models_file)  # after the consumer's start check, before its first job
        queued = post_generate(client, preset["id"])
        assert queued.status_code == 202, queued.get_json()
        job = wait_for_job(app, queued.get_json()["jobId"], timeout=60)
        assert job.status == "succeeded", consumer.log_tail()
    finally:
        consumer.stop()


def test_without_any_good_registry_generate_answers_503_naming_the_file(tmp_path, pg_database, models_file):
    BROKEN["invalid JSON"][0](models_file)
    env = base_env(
        tmp_path / "instance", DATABASE_URL=pg_database, REDIS_URL=REDIS_TEST_URL, MODELS_FILE=str(models_file)
    )
    app = create_app(load_settings(env), {"TESTING": True}, enqueue=enqueue_job, checks_at_start=False)
    with app.app_context():
        db.session.execute(delete(Preset).where(Preset.name == "No Registry Yet"))
        db.session.commit()
    preset_id = factories.preset(app, "No Registry Yet", prompt="portrait")
    client = app.test_client()
    for answer in (post_generate(client, preset_id), client.get("/api/admin/presets", headers=auth_headers())):
        assert answer.status_code == 503
        assert answer.get_json()["error"].startswith("models.json: not valid JSON (line 1, column 11")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job).where(Job.preset_id == preset_id)) == 0
        db.session.execute(delete(Preset).where(Preset.id == preset_id))
        db.session.commit()
        db.engine.dispose()


# -- models check ---------------------------------------------------------------------------------------


def check(make_app, models_file: Path, data: dict, *args: str):
    models_file.write_text(json.dumps(seed_copy()))
    app = make_app(MODELS_FILE=str(models_file))
    models_file.write_text(json.dumps(data))
    return app.test_cli_runner().invoke(args=["models", "check", *args])


def test_models_check_warns_on_an_uneven_split_and_too_few_of_a_gender(make_app, models_file):
    uneven = seed_copy()
    uneven["male"] = uneven["male"][:30]
    result = check(make_app, models_file, uneven)
    assert result.exit_code == 0, result.output
    assert "models.json: 66 models (30 male + 36 female), valid, 1 warning(s)" in result.output
    assert "warning: uneven split: 30 male, 36 female; jobs take 10 of each, so a preset runs out of male" in (
        result.output
    )
    assert "all valid" not in result.output
    assert check(make_app, models_file, uneven, "--strict").exit_code == 1

    short = registry(12, 8)
    result = check(make_app, models_file, short, "--strict")
    assert result.exit_code == 1
    assert "warning: only 8 female models: a job takes 10, so every job gets fewer" in result.output
    assert "after 0 full job(s)" in result.output

    shared = registry(10, 10)
    shared["female"][4]["s3Url"] = shared["male"][2]["s3Url"]
    assert "female_05 has the same s3Url as male_03" in check(make_app, models_file, shared).output

    result = check(make_app, models_file, seed_copy(), "--strict")
    assert result.exit_code == 0 and "72 models (36 male + 36 female), valid, all valid" not in result.output
    assert "72 models (36 male + 36 female), all valid" in result.output


# -- models check --urls: HEAD against a local HTTPS server ------------------------------------------


def wait_until_the_client_leaves(connection, at_most: float) -> None:
    """A photo that never answers in time: the client gives up (its timeout) and closes the connection."""
    deadline = time.monotonic() + at_most
    while time.monotonic() < deadline:
        if wait_for_readable([connection], [], [], 0.02)[0]:
            try:
                if not connection.recv(1):
                    return
            except OSError:  # ssl.SSLError is one
                return


class PhotoServer:
    """HTTPS on 127.0.0.1 answering HEAD like a bucket: photos, a missing and a private one, a slow one, a page.

    `most_inflight` counts the HEADs the client is waiting on at once. A request stops counting just before its
    answer is sent (the client cannot start its next HEAD sooner), and the slow one once the client gives up or
    `slow_counts_for` seconds have passed, whichever is first: the client's timeout (1 s) starts before our
    clock does, and noticing its close can lag its next request on a busy machine."""

    def __init__(self, tls: ssl.SSLContext, delay: float = 0.15, slow_counts_for: float = 0.8):
        self.inflight = self.most_inflight = 0
        self.heads: list[str] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self):
                with server.lock:
                    server.heads.append(self.path)
                    server.inflight += 1
                    server.most_inflight = max(server.most_inflight, server.inflight)
                waited_on = True

                def answered():
                    nonlocal waited_on
                    if waited_on:
                        waited_on = False
                        with server.lock:
                            server.inflight -= 1

                try:
                    if self.path.startswith("/slow/"):
                        wait_until_the_client_leaves(self.connection, slow_counts_for)
                        answered()
                        wait_until_the_client_leaves(self.connection, 3)
                    else:
                        time.sleep(delay)
                    status, kind = {"/missing/": (404, "application/xml"), "/private/": (403, "application/xml")}.get(
                        self.path[: self.path.index("/", 1) + 1], (200, "image/png")
                    )
                    if self.path.startswith("/page/"):
                        kind = "text/html; charset=utf-8"
                    answered()
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", "1234")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass
                finally:
                    answered()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.origin = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def certificate():
    with self_signed_certificate("IP:127.0.0.1") as pair:
        yield pair


@pytest.fixture
def photos(certificate, monkeypatch):
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(*certificate)
    server = PhotoServer(tls)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # httpx trusts our certificate, as a CA bundle would
    yield server
    server.close()


def test_models_check_urls_heads_every_photo_a_few_at_a_time_and_fails_on_any_missing(make_app, models_file, photos):
    def url(gender, n):
        special = {("male", 2): "missing", ("female", 3): "private", ("male", 5): "slow", ("female", 7): "page"}
        return f"{photos.origin}/{special.get((gender, n), 'img')}/{gender}_{n:02d}.png"

    started = time.monotonic()
    result = check(make_app, models_file, registry(12, 12, url), "--urls", "--workers", "4", "--timeout", "1")
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert "HEAD 24 URLs (4 at a time, 1 s timeout): 21 answered, 3 failed" in result.output
    assert f"failed: male_02 {photos.origin}/missing/male_02.png: HTTP 404 Not Found" in result.output
    assert f"failed: female_03 {photos.origin}/private/female_03.png: HTTP 403 Forbidden" in result.output
    assert f"failed: male_05 {photos.origin}/slow/male_05.png: no answer within 1 s" in result.output
    assert f"warning: female_07 {photos.origin}/page/female_07.png: answers text/html, not an image" in result.output
    every = [url(g, n).removeprefix(photos.origin) for g in ("male", "female") for n in range(1, 13)]
    assert sorted(photos.heads) == sorted(every)  # each photo asked once, with HEAD
    assert 2 <= photos.most_inflight <= 4, photos.most_inflight
    assert elapsed < 24 * 0.15 + 3, elapsed  # concurrent: far less than one after the other

    photos.heads.clear()
    good = registry(12, 12, lambda g, n: f"{photos.origin}/img/{g}_{n:02d}.png")
    result = check(make_app, models_file, good, "--urls")
    assert result.exit_code == 0, result.output
    assert "HEAD 24 URLs (8 at a time, 10 s timeout): 24 answered, 0 failed" in result.output
    assert len(photos.heads) == 24
