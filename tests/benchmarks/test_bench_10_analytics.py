"""Benchmark 10: the analytics page (issue 19) on PostgreSQL with 20 and then 200 presets, 10,000 and then
100,000 examples (plus their job items, spend entries and usage rows), no cache: its time and its query count."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from app.core.database import db
from app.models import utcnow
from tests.benchmarks.helpers import Report, fmt, median, percentile
from tests.conftest import create_admin, sign_in
from tests.helpers import count_queries

PROVIDERS = ("NANO_BANANA", "FLUX_KONTEXT", "FLUX_PRO", "STABLE_DIFFUSION")
STATES = ("unreviewed", "approved", "featured", "rejected")
JOBS_PER_PRESET, ITEMS_PER_JOB, EXAMPLES_PER_PRESET = 28, 20, 500  # 560 items: 500 examples, 60 failed or canceled
REQUESTS = 40  # timed requests per phase, after 3 to warm up
DAYS = 85  # every row inside the default 90-day range: the page's worst case


def copy_rows(cur, table: str, columns: str, rows) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def history(preset_ids: list[str], models: list[tuple[str, str]], rng: random.Random, first: int):
    """Rows for each table: jobs of 20 items, 500 succeeded items a preset with an example in a random curation
    state, the others failed or canceled; a spend entry per ended item; every preset has used all 72 models."""
    now, rows = utcnow(), {"jobs": [], "items": [], "examples": [], "spend": [], "usage": []}
    items = JOBS_PER_PRESET * ITEMS_PER_JOB
    for p, preset_id in enumerate(preset_ids, first):
        provider, succeeded = PROVIDERS[p % 4], set(rng.sample(range(items), EXAMPLES_PER_PRESET))
        for j in range(JOBS_PER_PRESET):
            job_id, created = f"job{p:09d}{j:020d}", now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
            rows["jobs"].append((job_id, preset_id, 1, "p", provider, "{}", False, "partial", 0, 20, 0, 0, created))
            for i, (model_id, gender) in enumerate(rng.sample(models, ITEMS_PER_JOB)):
                ok = j * ITEMS_PER_JOB + i in succeeded
                state = "succeeded" if ok else rng.choice(("failed", "canceled"))
                ended = created + timedelta(seconds=rng.uniform(3, 60))
                seconds = None if state == "canceled" else rng.uniform(3, 40)
                rows["items"].append((job_id, model_id, gender, "https://x/y.png", 0, state, ended, seconds))
                if ok:
                    rows["examples"].append(
                        (f"ex{p:09d}{j:09d}{i:012d}", preset_id, job_id, model_id, gender, 0, provider, "p")
                        + (f"presets/{preset_id}/{job_id}-{model_id}.png", False, ended, rng.choice(STATES))
                    )
                amount = "0.039" if ok else "0"
                month = ended.strftime("%Y-%m")
                rows["spend"].append(
                    (month, job_id, preset_id, model_id, provider, "per_image", amount, seconds, ended)
                )
        rows["usage"] += [(f"use{p:09d}{n:020d}", preset_id, m, "used", now) for n, (m, _) in enumerate(models)]
    return rows


def seed(conn, first: int, count: int, models) -> None:
    preset_ids = [f"bench{n:027d}" for n in range(first, first + count)]
    rows = history(preset_ids, models, random.Random(first), first)
    with conn.cursor() as cur:
        now = datetime.now()
        copy_rows(
            cur,
            "presets",
            "id, name, prompt, provider, settings, created_at, updated_at",
            [(pid, f"Bench {n:03d}", "p", PROVIDERS[n % 4], "{}", now, now) for n, pid in enumerate(preset_ids, first)],
        )
        copy_rows(
            cur,
            "jobs",
            "id, preset_id, examples_per_model, prompt, provider, settings, offline, status, attempts, total, done, "
            "failed, created_at, cancel_requested, requeues, stalled_requeues, progress_mark",
            [row + (False, 0, 0, 0) for row in rows["jobs"]],
        )
        copy_rows(
            cur,
            "job_items",
            "job_id, model_id, gender, reference_url, example_index, state, updated_at, prediction_seconds",
            rows["items"],
        )
        copy_rows(
            cur,
            "gallery_examples",
            "id, preset_id, job_id, model_id, gender, example_index, provider, prompt, image_path, offline, "
            "created_at, state",
            rows["examples"],
        )
        copy_rows(
            cur,
            "spend_entries",
            "month, job_id, preset_id, model_id, provider, basis, amount, predict_time, created_at",
            rows["spend"],
        )
        copy_rows(cur, "preset_model_usage", "id, preset_id, model_id, state, used_at", rows["usage"])
        for table in ("presets", "jobs", "job_items", "gallery_examples", "spend_entries", "preset_model_usage"):
            cur.execute(f"ANALYZE {table}")


def measure(app, client, path: str) -> tuple[list[float], int]:
    """(seconds of each timed request, queries of one request)."""
    for _ in range(3):
        assert client.get(path).status_code == 200
    times = []
    for _ in range(REQUESTS):
        t0 = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200
    with count_queries(app) as statements:
        client.get(path)
    return times, len(statements)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def test_bench_10_analytics_page_is_fast_and_its_queries_do_not_grow_with_presets(stack):
    app = stack.app()
    report = Report(
        "10",
        "Analytics: the page with 20 and 200 presets, 10,000 and 100,000 examples (PostgreSQL, no cache)",
        f"Per preset {JOBS_PER_PRESET} jobs × {ITEMS_PER_JOB} items (500 examples in every curation state, 60 "
        f"failed or canceled items), a spend entry per ended item and 72 used models; every row within the last "
        f"{DAYS} days (the default range shows them all). COPY, then ANALYZE. {REQUESTS} requests per case in "
        "process (Flask test client, signed in) after 3 to warm up; the whole response, rendering included.",
    )
    create_admin(app)
    client = app.test_client()
    sign_in(client)
    with app.app_context():
        models = [(m.id, m.gender) for m in app.extensions["pixelglow"].registry().all]
        db.session.remove()
    conn = stack.pg(app)
    results = {}
    for presets, first, added in ((20, 0, 20), (200, 20, 180)):
        t0 = time.perf_counter()
        seed(conn, first, added, models)
        seeded = time.perf_counter() - t0
        examples = conn.execute("SELECT count(*) FROM gallery_examples").fetchone()[0]
        items = conn.execute("SELECT count(*) FROM job_items").fetchone()[0]
        page, page_queries = measure(app, client, "/admin/analytics")
        api, api_queries = measure(app, client, "/api/admin/analytics")
        results[presets] = (examples, items, page, page_queries, api, api_queries, seeded)

    for presets, (examples, items, page, page_q, api, api_q, seeded) in results.items():
        label = f"{presets} presets, {examples:,} examples, {items:,} items"
        value = f"{ms(percentile(page, 95))} (median {ms(median(page))}); {page_q} queries"
        if presets == 200:
            report.row(f"page p95, {label}", value, "≤ 300 ms", percentile(page, 95) <= 0.300)
        else:
            report.row(f"page p95, {label}", value, "context")
        report.row(
            f"API p95, {presets} presets",
            f"{ms(percentile(api, 95))} (median {ms(median(api))}); {api_q} queries",
            "context",
        )
        report.note(f"seeding {presets} presets' rows took {fmt(seeded, ' s', 1)} (COPY + ANALYZE)")
    small, large = results[20][3], results[200][3]
    report.row("page queries, 20 → 200 presets", f"{small} → {large}", "equal (fixed)", small == large)
    report.publish()
    assert small == large, "the page's query count grew with the number of presets"
