"""The embedded progress store (SQLite in instance/, the first run's default): shared safely by the web process,
the consumer and CLI commands, checked by /readyz and `doctor`, and refused at start when damaged."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app import create_app
from app.core.config import load_settings
from app.jobs.embedded_store import StoreDamaged, embedded_db, store_path
from app.jobs.progress import SqliteProgressStore
from app.services import services_of
from app.tasks import enqueue_job
from tests.conftest import base_env, create_admin, sign_in, upgrade
from tests.helpers import PROJECT, flask_cli
from tests.open_files import deleted_files_held

# Another process using the store with SQLite alone, as a consumer or a CLI command would: it writes (or reads) a
# record, and its close checkpoints and, when it is the store's last user, deletes the write-ahead log.
OTHER_PROCESS = """
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
if sys.argv[2] == "write":
    conn.execute(
        "INSERT OR REPLACE INTO progress (key, value, expires) VALUES ('progress:other', ?, 1e12)",
        (json.dumps({"by": "other"}),),
    )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
else:
    print(conn.execute("SELECT value FROM progress WHERE key = 'progress:this'").fetchone()[0])
conn.close()
"""


def other_process(path: Path, action: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, str(path), action], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def in_thread(function):
    result = []
    thread = threading.Thread(target=lambda: result.append(function()))
    thread.start()
    thread.join(30)
    return result[0]


def test_a_thread_opening_the_store_while_another_reads_keeps_the_processes_on_one_database(tmp_path):
    """The cause of the first run's corruption: opening and closing a descriptor of the live file (to set its
    mode) dropped every lock this process held, so another process deleted the write-ahead log still in use."""
    path = tmp_path / "progress.sqlite3"
    store = SqliteProgressStore(path)
    store.write("this", {"by": "this"})
    reading, release = threading.Event(), threading.Event()

    def hold_a_read_transaction():
        with store._db.connection() as conn:
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM progress").fetchone()
            reading.set()
            release.wait(2)
            conn.execute("COMMIT")

    reader = threading.Thread(target=hold_a_read_transaction)
    reader.start()
    assert reading.wait(10)
    second = threading.Thread(target=lambda: store.read("this"))  # this thread's first use of the store
    second.start()
    time.sleep(0.5)
    release.set()
    reader.join(10)
    second.join(10)

    other_process(path, "write")

    assert deleted_files_held(tmp_path) == []
    assert in_thread(lambda: store.read("other")) == {"by": "other"}
    store.write("this", {"by": "this, again"})
    assert "this, again" in other_process(path, "read")


def test_the_progress_store_webhooks_and_api_usage_share_one_handle_per_process(make_app, tmp_path):
    services = services_of(make_app(database="sqlite", queue="embedded"))
    handles = {id(services.progress._db), id(services.completions()._db), id(services.api_usage()._db)}
    assert len(handles) == 1
    assert embedded_db(store_path(services.settings.instance_path)) is services.progress._db


def test_the_store_file_is_private_from_its_creation(tmp_path):
    store = SqliteProgressStore(tmp_path / "instance" / "progress.sqlite3")
    store.write("job", {"state": "running"})
    for name in ("progress.sqlite3", "progress.sqlite3-wal", "progress.sqlite3-shm"):
        assert (tmp_path / "instance" / name).stat().st_mode & 0o777 == 0o600, name
    assert (tmp_path / "instance").stat().st_mode & 0o777 == 0o700


def write_garbage(path: Path) -> None:
    """Overwrite the file from another process (this one must never open the live file itself)."""
    code = "import sys; f = open(sys.argv[1], 'r+b'); f.write(b'not a database, garbage ' * 200); f.close()"
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=30)


def embedded_app(instance: Path, **kwargs):
    env = base_env(instance, DATABASE_URL=f"sqlite:///{instance / 'pixelglow.sqlite3'}", REDIS_URL="")
    return create_app(load_settings(env), {"TESTING": True}, enqueue=enqueue_job, **kwargs)


def migrated_embedded_app(instance: Path):
    upgrade(f"sqlite:///{instance / 'pixelglow.sqlite3'}", instance)
    return embedded_app(instance)


def test_a_store_damaged_while_running_turns_readyz_503_and_doctor_names_the_file_and_the_fix(tmp_path):
    app = migrated_embedded_app(tmp_path)
    client = app.test_client()
    ready = client.get("/readyz").get_json()
    assert ready["checks"]["progress store"]["ok"], ready
    with services_of(app).progress._db.connection() as conn:  # every page in the file: none read from the log
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    write_garbage(store_path(tmp_path))

    answer = client.get("/readyz")
    assert answer.status_code == 503
    body = answer.get_json()
    assert "progress store" in body["down"]
    assert "damaged: progress.sqlite3" in body["checks"]["progress store"]["detail"]
    doctor = app.test_cli_runner().invoke(args=["doctor"])
    assert doctor.exit_code == 1, doctor.output
    assert f"delete {store_path(tmp_path)} and its -wal and -shm files" in doctor.output
    assert "FAIL  progress store" in doctor.output


def test_the_jobs_page_still_answers_when_the_store_it_reads_is_damaged(tmp_path):
    app = migrated_embedded_app(tmp_path)
    create_admin(app)
    client = app.test_client()
    sign_in(client)
    assert client.get("/admin/jobs").status_code == 200
    with services_of(app).progress._db.connection() as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA shrink_memory")

    write_garbage(store_path(tmp_path))

    jobs_page = client.get("/admin/jobs")  # shows the API calls of the last minute, counted in the store
    assert jobs_page.status_code == 200, jobs_page.get_data(as_text=True)
    assert client.get("/readyz").status_code == 503


def run_flask(instance: Path, *args: str) -> subprocess.CompletedProcess:
    return flask_cli({"PATH": os.environ["PATH"], "INSTANCE_PATH": str(instance), "PYTHONPATH": str(PROJECT)}, *args)


def test_a_store_damaged_before_start_is_refused_by_every_process_but_doctor(tmp_path):
    """The policy: a damaged store is never used silently, nor moved aside (another process may still be using
    it): every process refuses to start, naming the file and the fix; `doctor` runs and says the same."""
    assert run_flask(tmp_path, "db", "upgrade").returncode == 0
    write_garbage(store_path(tmp_path))

    listing = run_flask(tmp_path, "presets", "list")
    assert listing.returncode == 4
    assert f"The embedded progress store {store_path(tmp_path)} is damaged" in listing.stderr
    assert "Traceback" not in listing.stderr

    with pytest.raises(StoreDamaged):
        embedded_app(tmp_path)

    consumer = subprocess.run(
        [str(Path(sys.executable).parent / "huey_consumer"), "app.tasks.huey", "-w", "1"],
        cwd=PROJECT,
        env={"PATH": os.environ["PATH"], "INSTANCE_PATH": str(tmp_path), "PYTHONPATH": str(PROJECT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert consumer.returncode != 0
    assert f"The consumer cannot start. The embedded progress store {store_path(tmp_path)}" in consumer.stderr

    doctor = run_flask(tmp_path, "doctor")
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert "FAIL  progress store" in doctor.stdout
    assert f"delete {store_path(tmp_path)} and its -wal and -shm files" in doctor.stdout


def test_doctor_on_the_embedded_defaults_says_when_no_consumer_runs_and_how_to_start_one(tmp_path):
    app = migrated_embedded_app(tmp_path)
    doctor = app.test_cli_runner().invoke(args=["doctor"])
    assert doctor.exit_code == 1
    assert "FAIL  consumers          none alive: queued jobs wait until one starts" in doctor.output
    assert "fix: start one: huey_consumer app.tasks.huey -w 4 -k thread" in doctor.output
    assert "ok    progress store     embedded (progress.sqlite3 in the instance folder)" in doctor.output
