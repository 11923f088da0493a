"""Benchmark 4: the polled progress fragment under wrk, next to a trivial page behind the same sign-in."""

from __future__ import annotations

import os
import threading
import time

from app.core.database import db
from app.models import Job, JobItem, iso, utcnow
from tests.benchmarks.gunicorn_wrk import CONNECTIONS, DURATION, THREADS, WRK, signed_in_gunicorn, wrk
from tests.benchmarks.helpers import Report, SystemCpu, median
from tests.benchmarks.ping import add_ping
from tests.conftest import (
    create_admin,
    create_preset,
    post_generate,
    sign_in,
)

ROUNDS = 3
IN_PROCESS = 500
EXAMPLES_SO_FAR = 8


def running_record(job: Job, items: list[JobItem]) -> dict:
    """What a worker writes mid-job: 20 items in mixed states, EXAMPLES_SO_FAR examples stored."""
    states = ["succeeded"] * EXAMPLES_SO_FAR + ["processing"] * (len(items) - EXAMPLES_SO_FAR - 1) + ["failed"]
    record_items, examples = [], []
    for n, (item, state) in enumerate(zip(items, states, strict=True)):
        record_items.append(
            {
                "modelId": item.model_id,
                "gender": item.gender,
                "index": item.example_index,
                "state": state,
                "predictionId": f"pred{n:022d}",
                "error": "prediction failed: E001 simulated model failure" if state == "failed" else None,
            }
        )
        if state == "succeeded":
            examples.append(
                {
                    "id": f"ex{n:030d}",
                    "modelId": item.model_id,
                    "gender": item.gender,
                    "index": item.example_index,
                    "imageUrl": f"/media/presets/{job.preset_id}/{job.id}/{item.model_id}-0.jpg",
                    "offline": False,
                    "createdAt": iso(utcnow()),
                }
            )
    return {
        "jobId": job.id,
        "presetId": job.preset_id,
        "status": "running",
        "percent": 20 + 60 * 9 // 20,
        "stage": "generating",
        "message": f"{EXAMPLES_SO_FAR} of {len(items)} examples stored",
        "done": EXAMPLES_SO_FAR,
        "failed": 1,
        "total": len(items),
        "offline": False,
        "examplesPerModel": 1,
        "items": record_items,
        "examples": examples,
        "createdAt": iso(job.created_at),
        "finishedAt": None,
        "updatedAt": iso(utcnow()),
    }


def time_in_process(app, paths: dict) -> dict:
    """Milliseconds per request through the Flask test client, signed in (no server, no network): the app's work."""
    client = app.test_client()
    sign_in(client)
    result = {}
    for name, path in paths.items():
        for _ in range(50):  # warm up
            assert client.get(path, headers={"HX-Request": "true"}).status_code == 200
        t0 = time.perf_counter()
        for _ in range(IN_PROCESS):
            client.get(path, headers={"HX-Request": "true"})
        result[name] = (time.perf_counter() - t0) / IN_PROCESS * 1000
    return result


def test_bench_4_progress_fragment_against_a_trivial_signed_in_page(stack):
    assert WRK, "wrk is not installed: apt-get install -y wrk (make bench installs it)"
    app = add_ping(stack.app())
    create_admin(app)
    report = Report(
        "4",
        "Progress fragment vs a trivial signed-in page, under wrk",
        f"gunicorn -w 2 -k gthread --threads 4 on 127.0.0.1 (PostgreSQL + Redis); wrk -t{THREADS} "
        f"-c{CONNECTIONS} -d{DURATION}s --latency with the admin's session cookie and HX-Request, "
        f"{ROUNDS} alternating rounds each (median round reported); a running job whose progress record (20 items, "
        f"{EXAMPLES_SO_FAR} examples) is refreshed every second as a worker would; trivial page = "
        "/admin/bench-ping (registered by tests/benchmarks/bench_wsgi.py, same sign-in).",
    )
    client = app.test_client()
    preset = create_preset(client)
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]  # no consumer: the job stays ours
    with app.app_context():
        job = db.session.get(Job, job_id)
        items = sorted(job.items, key=lambda i: i.id)
        record = running_record(job, items)
        db.session.remove()
    progress = app.extensions["pixelglow"].progress
    stop = threading.Event()

    def keep_fresh():  # the worker's publish(): a fresh record every second
        while not stop.is_set():
            record["updatedAt"] = iso(utcnow())
            progress.write(job_id, record)
            stop.wait(1.0)

    refresher = threading.Thread(target=keep_fresh, daemon=True)
    refresher.start()

    try:
        with signed_in_gunicorn(app, stack.tmp_path) as (base, browser, cookie):
            fragment_path = f"/admin/jobs/{job_id}/progress?shown={EXAMPLES_SO_FAR}&view=preset&base=0"
            job_view_path = f"/admin/jobs/{job_id}/progress?view=job"
            ping = browser.get("/admin/bench-ping", headers={"HX-Request": "true"})
            assert ping.status_code == 200 and ping.text == "ok", (ping.status_code, ping.text[:200])
            page = browser.get(fragment_path, headers={"HX-Request": "true"})
            assert page.status_code == 200 and 'id="progress"' in page.text and "Generating" in page.text, page.text[
                :500
            ]
            job_page = browser.get(job_view_path, headers={"HX-Request": "true"})
            assert job_page.status_code == 200 and "items-table" in job_page.text
            sizes = {"ping": len(ping.content), "fragment": len(page.content), "job": len(job_page.content)}

            in_process = time_in_process(
                app, paths={"ping": "/admin/bench-ping", "fragment": fragment_path, "job": job_view_path}
            )
            results = {"ping": [], "fragment": [], "job": []}
            machine = SystemCpu()
            for _ in range(ROUNDS):
                for name, path in (("ping", "/admin/bench-ping"), ("fragment", fragment_path), ("job", job_view_path)):
                    results[name].append(wrk(base + path, cookie))
            busy = machine.cores_busy()
    finally:
        stop.set()

    def mean(name, key):  # the median round: one round disturbed by the shared machine does not decide
        return median([r[key] for r in results[name]])

    ping_rps, ping_p99 = mean("ping", "rps"), mean("ping", "p99")
    report.row(
        "trivial signed-in page: requests/s, p50, p99",
        f"{ping_rps:,.0f} /s, {mean('ping', 'p50'):.2f} ms, {ping_p99:.2f} ms",
        "reference",
    )
    for name, label in (
        ("fragment", "progress fragment (preset view, caught up)"),
        ("job", "progress fragment (job view: 20-row items table)"),
    ):
        rps, p99 = mean(name, "rps"), mean(name, "p99")
        report.row(
            f"{label}: requests/s, p50, p99",
            f"{rps:,.0f} /s, {mean(name, 'p50'):.2f} ms, {p99:.2f} ms",
            f"({sizes[name]:,} bytes)",
        )
        report.row(f"  {name}: throughput vs trivial", f"{rps / ping_rps:.0%}", "≥ 50 %", rps / ping_rps >= 0.5)
        report.row(f"  {name}: p99 vs trivial", f"{p99 / ping_p99:.2f} ×", "≤ 3 ×", p99 / ping_p99 <= 3)
    report.row(
        "in-process cost per request (test client, 1 thread): ping / fragment / job view",
        " / ".join(f"{in_process[n]:.2f} ms" for n in ("ping", "fragment", "job")),
        "context (no network, no wrk)",
    )
    report.row(
        "machine busy during wrk",
        f"{busy:.2f} of {os.cpu_count()} cores",
        "context: wrk shares the machine with gunicorn",
    )
    report.note(
        "per round (rps): "
        + "; ".join(f"{n} " + ", ".join(f"{r['rps']:,.0f}" for r in rs) for n, rs in results.items())
    )
    report.publish()
