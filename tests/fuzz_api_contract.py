"""Schemathesis against the running app: every operation of the contract (app/web/openapi/openapi.yaml),
positive and negative cases, checked for no 5xx, documented statuses, content types and body shapes.

The app is served over HTTP (werkzeug, a thread) on PostgreSQL and Redis, a `huey_consumer` runs its jobs on the
Replicate-compatible test server, and a few presets with examples give the fuzzer real ids to use besides the
ones it makes up. Bounded: FUZZ_API_EXAMPLES cases per operation and FUZZ_API_SECONDS in all; the seed is
printed (set FUZZ_API_SEED to replay a run). Not part of `make test` (the file name says so): `.ci/run` runs it
on its own, `pytest tests/fuzz_api_contract.py -s` locally.
"""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app import create_app
from app.core.config import load_settings
from app.core.database import db
from app.tasks import enqueue_job
from tests.conftest import API_TOKEN, REPLICATE_TOKEN, base_env, empty_tables, wait_for_job
from tests.live_stack import Consumer, isolated_queue

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
EXAMPLES = int(os.environ.get("FUZZ_API_EXAMPLES", "40"))
SECONDS = int(os.environ.get("FUZZ_API_SECONDS", "420"))
FEED_TOKEN = "feed-token-for-the-fuzzer-0123456789"


@pytest.fixture
def stack(pg_database, tmp_path):
    """The app on a random port with a worker and the test Replicate server; yields (base URL, app)."""
    from tests.replicate_server import ReplicateServer

    replicate = ReplicateServer(token=REPLICATE_TOKEN, latency=0.05, seed=11).start()
    with isolated_queue() as redis_url:
        env = base_env(
            tmp_path,
            DATABASE_URL=pg_database,
            REDIS_URL=redis_url,
            MEDIA_DIR=str(tmp_path / "media"),
            GENERATION_MODE="replicate",
            REPLICATE_API_TOKEN=REPLICATE_TOKEN,
            REPLICATE_BASE_URL=replicate.url,
            REPLICATE_POLL_INTERVAL="0.05",
            GALLERY_FEED_TOKEN=FEED_TOKEN,
        )
        app = create_app(load_settings(env), enqueue=enqueue_job)
        with app.app_context(), db.engine.begin() as conn:
            empty_tables(conn)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="fuzzed-app", daemon=True)
        thread.start()
        consumer = Consumer(env, tmp_path / "consumer.log", workers=2).start(app.extensions["pixelglow"].progress)
        try:
            yield f"http://127.0.0.1:{server.server_port}", app
        finally:
            consumer.stop()
            server.shutdown()
            thread.join(timeout=5)
            replicate.stop()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def seed_data(app) -> dict[str, list[str]]:
    """Three presets, one with a finished job's examples, one with a finished comparison: the ids the fuzzer may
    pick besides its own."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    presets = []
    for name in ("Fuzz Headshot", "Fuzz Noir", "Fuzz Pastel"):
        response = client.post("/api/admin/presets", json={"name": name, "prompt": f"{name} portrait"}, headers=headers)
        presets.append(response.get_json()["id"])
    queued = client.post(
        f"/api/admin/presets/{presets[0]}/generate-examples",
        json={"modelIds": ["male_01", "female_01"]},
        headers=headers,
    )
    job_id = queued.get_json()["jobId"]
    wait_for_job(app, job_id)
    gallery = client.get(f"/api/admin/presets/{presets[0]}/gallery", headers=headers).get_json()
    examples = [item["id"] for item in gallery["items"]]
    body = {"variants": [{"current": True}, {"provider": "FLUX_PRO"}], "modelIds": ["male_02", "female_02"]}
    started = client.post(f"/api/admin/presets/{presets[1]}/comparisons", json=body, headers=headers).get_json()
    comparison_id = started["comparisonId"]
    for variant in started["variants"]:
        wait_for_job(app, variant["jobId"])
    return {
        "preset_id": presets,
        "job_id": [job_id],
        "example_id": examples,
        "model_id": ["male_01", "female_01"],
        "comparison_id": [comparison_id],
    }


def config_file(path: Path, known: dict[str, list[str]]) -> Path:
    """schemathesis.toml: a token per security scheme, and the seeded ids offered for each path parameter."""
    doomed = known["preset_id"].pop()
    lines = [
        f'[auth.openapi.AdminToken]\nbearer = "{API_TOKEN}"',
        f'[auth.openapi.FeedToken]\nbearer = "{FEED_TOKEN}"',
    ]
    for name, values in known.items():
        quoted = ", ".join(f'"{value}"' for value in values)
        lines.append(f"[dictionaries.{name}]\nvalues = [{quoted}]")
    bindings = [f'{name} = {{ dictionary = "{name}", probability = 0.5 }}' for name in known]
    lines.append("[parameters]\n" + "\n".join(bindings))
    # DELETE gets the last preset only, so the others keep their examples and jobs for the rest of the run
    lines.append(f'[[operations]]\ninclude-method = "DELETE"\nparameters = {{ preset_id = "{doomed}" }}')
    path.write_text("\n\n".join(lines) + "\n")
    return path


def test_schemathesis_finds_nothing(stack, tmp_path):
    url, app = stack
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns the findings
    seed = int(os.environ.get("FUZZ_API_SEED") or random.randrange(2**31))
    print(f"\nschemathesis seed: {seed} (FUZZ_API_SEED={seed} replays this run)", flush=True)
    config = config_file(tmp_path / "schemathesis.toml", seed_data(app))
    command = [
        str(SCHEMATHESIS), "--config-file", str(config), "run", f"{url}/api/openapi.json",
        "--checks", CHECKS, "--mode", "all", "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(EXAMPLES), "--max-time", str(SECONDS), "--seed", str(seed), "--workers", "1",
        "--request-timeout", "20", "--no-color",
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=SECONDS + 300, cwd=tmp_path
    )  # its cache too
    print(result.stdout[-20000:], result.stderr[-5000:], sep="\n")
    assert result.returncode == 0, f"schemathesis found problems (seed {seed}): see the output above"
