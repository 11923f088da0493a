"""Benchmark 9: a preset with 1,000 examples of 1024 x 1024 photographs: what its first gallery page transfers, how
fast it renders, how many SQL queries it makes at 100 and at 1,000 examples, and what making the sizes costs."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import event, insert

from app.core.database import db
from app.models import GalleryExample, Job, new_id, utcnow
from app.storage.base import reference_thumb_key, size_key
from app.storage.local import MediaStorage
from app.storage.sizes import MEDIUM, THUMB, resized_webps, store_sizes
from tests.benchmarks.gunicorn_wrk import (
    CONNECTIONS,
    DURATION,
    ROOT,
    THREADS,
    WRK,
    signed_in_gunicorn,
    wrk,
)
from tests.benchmarks.helpers import Report, SystemCpu, median, percentile
from tests.benchmarks.ping import add_ping
from tests.conftest import create_admin, create_preset, sign_in
from tests.factories import mark_used
from tests.photos import photo_bytes

EXAMPLES, FIRST = 1_000, 100
SOURCES = 8  # distinct 1024 x 1024 photographs, each the output of 125 examples
REFERENCE_SOURCES = 6  # distinct portrait photos behind the 72 reference thumbnails
CPU_SAMPLES = 24
ROUNDS = 3  # wrk rounds of each page, alternating (wrk's threads, connections and duration: benchmark 4's)
IN_PROCESS = 200
IMG_SRC = re.compile(r'<img class="(?:output|reference)" src="(/media/[^"]+)"')


def size_cpu_ms(storage: MediaStorage, source: bytes) -> float:
    """CPU milliseconds to make and store both sizes of one image (decode, resize, encode). The work runs on an
    image thread, so this is the whole process's CPU time; nothing else in it works meanwhile (no server yet)."""
    start = time.process_time()
    store_sizes(storage, "examples/p/j/m-0.png", io.BytesIO(source))
    return (time.process_time() - start) * 1000


def seed_references(app) -> int:
    """What `models cache` leaves for the pages: a ~320 px WebP thumbnail per registry model."""
    storage = app.extensions["pixelglow"].storage
    thumbs = [
        resized_webps(io.BytesIO(photo_bytes(500 + n, (800, 1000), "JPEG", quality=88)), (THUMB,))[0].data
        for n in range(REFERENCE_SOURCES)
    ]
    with app.app_context():
        models = app.extensions["pixelglow"].registry().all
    for n, model in enumerate(models):
        storage.save_bytes(reference_thumb_key(model.id), thumbs[n % len(thumbs)])
    return len(models)


def seed_examples(app, preset_id: str, sources: list[bytes], count: int, start: int) -> None:
    """`count` examples (rows `start`…), each with its own thumbnail and medium files made from one of the sources;
    the originals are shared (8 files of ~1.9 MB rather than 1,000: no page of this benchmark loads them)."""
    storage = app.extensions["pixelglow"].storage
    with app.app_context():
        models = app.extensions["pixelglow"].registry().all
        sized = []
        for n, source in enumerate(sources):
            original = f"examples/{preset_id}/sources/photo-{n}.png"
            if not storage.exists(original):
                storage.save_bytes(original, source)
            medium, thumb = resized_webps(io.BytesIO(source), (MEDIUM, THUMB))
            sized.append((original, medium, thumb))
        rows, jobs = [], {}
        now = utcnow()
        for number in range(start, start + count):
            job_number, model = divmod(number, len(models))
            if job_number not in jobs:
                job = Job(
                    preset_id=preset_id, prompt="Golden-hour portrait", provider="NANO_BANANA", status="succeeded"
                )
                db.session.add(job)
                db.session.flush()
                jobs[job_number] = job.id
            job_id, reference = jobs[job_number], models[model]
            original, medium, thumb = sized[number % len(sized)]
            key = f"examples/{preset_id}/{job_id}/{reference.id}-0.png"
            storage.save_bytes(size_key(key, "thumb"), thumb.data)
            storage.save_bytes(size_key(key, "medium"), medium.data)
            rows.append(
                dict(
                    id=new_id(),
                    preset_id=preset_id,
                    job_id=job_id,
                    model_id=reference.id,
                    gender=reference.gender,
                    example_index=0,
                    provider="NANO_BANANA",
                    prompt="Golden-hour portrait",
                    image_path=original,
                    offline=False,
                    created_at=now,
                    state="unreviewed",
                    thumb_path=size_key(key, "thumb"),
                    thumb_width=thumb.width,
                    thumb_height=thumb.height,
                    medium_path=size_key(key, "medium"),
                    medium_width=medium.width,
                    medium_height=medium.height,
                )
            )
        db.session.execute(insert(GalleryExample), rows)
        db.session.commit()
        db.session.remove()


def queries_of(app, client, path: str) -> int:
    """SQL statements one GET of `path` runs (the session's lookups included)."""
    statements = []

    def count(*_args):
        statements.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def pool_kb(html: str) -> float:
    pool = re.search(r'<section id="pool".*?</section>', html, re.DOTALL)
    assert pool, "the page has its model pool"
    return len(pool.group(0).encode()) / 1e3


def page_images(client, html: str) -> list[tuple[str, int]]:
    """Each image the page's cards load in a browser at 1 device pixel per CSS pixel (their `src`: thumbnails),
    with its size in bytes as served."""
    found = []
    for url in IMG_SRC.findall(html):
        answer = client.get(url)
        assert answer.status_code == 200, url
        found.append((url, len(answer.data)))
    return found


def in_process_ms(client, path: str) -> list[float]:
    """Milliseconds of each GET of `path` (after 20 unmeasured ones)."""
    for _ in range(20):
        client.get(path)
    times = []
    for _ in range(IN_PROCESS):
        start = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - start) * 1000)
    return times


def under_wrk(stack, app, paths: dict[str, str]) -> tuple[dict[str, list[dict]], float]:
    """gunicorn -w 2 -k gthread --threads 4, as benchmark 4; alternating wrk rounds of each path."""
    with signed_in_gunicorn(app, stack.tmp_path) as (base, browser, cookie):
        for path in paths.values():
            assert browser.get(path).status_code == 200, path
        results: dict[str, list[dict]] = {name: [] for name in paths}
        machine = SystemCpu()
        for _ in range(ROUNDS):
            for name, path in paths.items():
                results[name].append(wrk(base + path, cookie, htmx=False))
        return results, machine.cores_busy()


SIZING_RSS = """
import io, sys, threading
from pathlib import Path
from app.storage.local import MediaStorage
from app.storage.sizes import store_sizes
def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
sources = [Path(p).read_bytes() for p in sys.argv[2:]]
storage = MediaStorage(Path(sys.argv[1]))
before = hwm()
def work(n):
    for k in range(20):
        store_sizes(storage, f"examples/p/j/m{n}-{k}.png", io.BytesIO(sources[(n + k) % len(sources)]))
threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print(before, hwm())
"""


def sizing_rss(tmp_path: Path, sources: list[bytes]) -> tuple[int, int]:
    """VmHWM (KB) of a fresh process before and after sizing 80 such photographs from 4 threads (as a consumer's
    workers would), the resize slots bounding how many decode at once."""
    paths = []
    for n, source in enumerate(sources):
        path = tmp_path / f"source-{n}.png"
        path.write_bytes(source)
        paths.append(str(path))
    out = subprocess.run(
        [sys.executable, "-c", SIZING_RSS, str(tmp_path / "rss-media"), *paths],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    ).stdout.split()
    return int(out[0]), int(out[1])


def test_bench_9_gallery_of_a_thousand_photographs(stack):
    assert WRK, "wrk is not installed: apt-get install -y wrk (make bench installs it)"
    report = Report(
        "9",
        "Gallery: a preset with 1,000 examples of 1024 × 1024 photographs",
        f"{SOURCES} distinct 1024 × 1024 photograph-like PNGs (tests/photos.py: gradients, shapes, strokes, grain; "
        "about 1.9 MB each) sized by app/storage/sizes.py, each the output of 125 examples with its own thumbnail and "
        "medium files; 72 reference thumbnails from 6 portrait JPEGs; PostgreSQL; the preset page's first gallery "
        "page (50 cards), rendered from the rows on every view (no page cache), with every model of the pool used "
        "(its heaviest state: each model has its Release button). "
        "Render: gunicorn -w 2 -k gthread --threads 4, "
        f"wrk -t{THREADS} -c{CONNECTIONS} "
        f"-d{DURATION}s, {ROUNDS} alternating rounds (median round), against /admin/bench-blank (the trivial page: "
        "the admin's layout with a heading and nothing looked up, tests/benchmarks/ping.py), /admin/bench-ping "
        "(benchmark 4's signed-in text answer) and /admin/presets (the list with one preset).",
    )
    app = add_ping(stack.app())
    create_admin(app)
    client = app.test_client()
    preset_id = create_preset(client, name="Golden Hour")["id"]
    sign_in(client)
    sources = [photo_bytes(seed, (1024, 1024)) for seed in range(SOURCES)]

    # -- making the sizes: CPU per image -------------------------------------------------------------------
    scratch = MediaStorage(stack.tmp_path / "sizing")
    png_cpu = [size_cpu_ms(scratch, sources[n % SOURCES]) for n in range(CPU_SAMPLES)]
    jpeg_1024 = photo_bytes(90, (1024, 1024), "JPEG", quality=92)
    jpeg_2048 = photo_bytes(91, (2048, 2048), "JPEG", quality=92)
    jpeg_cpu = [size_cpu_ms(scratch, jpeg_1024) for _ in range(8)]
    big_cpu = [size_cpu_ms(scratch, jpeg_2048) for _ in range(8)]
    mean_cpu = sum(png_cpu) / len(png_cpu)
    report.row(
        "making both sizes of a 1024 × 1024 PNG photograph: CPU per image (mean)",
        f"{mean_cpu:.0f} ms",
        "≤ 150 ms",
        mean_cpu <= 150,
    )
    report.row(
        "  median / p90 / max",
        f"{median(png_cpu):.0f} / {percentile(png_cpu, 90):.0f} / {max(png_cpu):.0f} ms",
        "context",
    )
    report.row(
        "  the same from a 1024 × 1024 JPEG / a 2048 × 2048 JPEG (draft: decoded at half scale), median",
        f"{median(jpeg_cpu):.0f} ms / {median(big_cpu):.0f} ms",
        "context",
    )
    before, after = sizing_rss(stack.tmp_path, sources)
    report.row(
        "  memory: a fresh process sizing 80 such PNGs asked by 4 threads (2 image threads): VmHWM before → after",
        f"{before / 1024:.1f} → {after / 1024:.1f} MB (+{(after - before) / 1024:.1f} MB)",
        "context for the consumer's peak",
    )

    # -- the first gallery page, at 100 and at 1,000 examples ---------------------------------------------------
    references = seed_references(app)
    page, gallery_api = f"/admin/presets/{preset_id}", f"/api/admin/presets/{preset_id}/gallery"
    page_24, page_1 = f"{page}?perPage=24", f"{page}?perPage=1"
    seed_examples(app, preset_id, sources, FIRST, 0)
    api_headers = {"Authorization": f"Bearer {app.config['TEST_ENV']['ADMIN_API_TOKEN']}"}
    queries_100 = queries_of(app, client, page)
    api_100 = len(client.get(gallery_api, headers=api_headers).get_json()["items"])
    seed_examples(app, preset_id, sources, EXAMPLES - FIRST, FIRST)
    queries_1000 = queries_of(app, client, page)
    report.row(
        "SQL queries of the preset page at 100 / 1,000 examples",
        f"{queries_100} / {queries_1000}",
        "the same, ≤ 5",
        queries_100 == queries_1000 <= 5,
    )
    html = client.get(page).get_data(as_text=True)
    images = page_images(client, html)
    outputs = [size for url, size in images if url.startswith("/media/examples/")]
    refs = [size for url, size in images if url.startswith("/media/references/")]
    total = sum(size for _url, size in images)
    assert len(outputs) == 50 and len(refs) == 50, (len(outputs), len(refs))
    assert all(url.endswith("-thumb.webp") for url, _size in images)
    report.row(
        "images the first page loads (50 cards: output + reference thumbnails)",
        f"{total / 1e6:.2f} MB in {len(images)} images",
        "≤ 2.5 MB",
        total <= 2.5e6,
    )
    report.row(
        "  per card: output thumbnail / reference thumbnail (mean)",
        f"{sum(outputs) / len(outputs) / 1e3:.1f} KB / {sum(refs) / len(refs) / 1e3:.1f} KB",
        "context",
    )
    mediums = [len(client.get(u).data) for u in re.findall(r'(/media/[^" ]+-medium\.webp) (?:\d+w|2x)', html)]
    report.row(
        "  the same page where srcset picks the medium size (≥ 2 device pixels per CSS pixel)",
        f"{(sum(mediums) + sum(refs)) / 1e6:.2f} MB",
        "context",
    )
    report.row(
        "  the same page with the originals (before this change)",
        f"{(sum(len(s) for s in sources) / SOURCES * 50 + sum(refs)) / 1e6:.1f} MB",
        "context",
    )
    free_kb, free_pool_kb = len(html.encode()) / 1e3, pool_kb(html)
    with app.app_context():
        mark_used(app, preset_id, [m.id for m in app.extensions["pixelglow"].registry().all])
    html = client.get(page).get_data(as_text=True)  # from here on, the pool's heaviest state
    page_kb = len(html.encode()) / 1e3
    assert html.count('name="model" value="') == references, "every model of the pool has its Release button"
    report.row(
        "HTML of the page (50 cards; every model of the pool used, so each has its Release button)",
        f"{page_kb:.0f} KB",
        "≤ 100 KB",
        page_kb <= 100,
    )
    report.row(
        "  of which the model pool (72 models) / the page at 24 cards a page (perPage=24)",
        f"{pool_kb(html):.0f} KB / {len(client.get(page_24).data) / 1e3:.0f} KB",
        "context (the decision raised on issue 32)",
    )
    report.row(
        "  the same page with no model used (the pool's lightest state): the page / its pool",
        f"{free_kb:.0f} KB / {free_pool_kb:.0f} KB",
        "context",
    )
    report.row(
        "  API first page (perPage 50) / the page at 100 examples",
        f"{len(client.get(gallery_api, headers=api_headers).get_json()['items'])} / {api_100} items",
        "context",
    )

    # -- server-side render -----------------------------------------------------------------------------------
    local = {
        name: in_process_ms(client, path)
        for name, path in (("ping", "/admin/bench-ping"), ("blank", "/admin/bench-blank"), ("page", page))
    }
    local["page_24"] = in_process_ms(client, page_24)
    local["page_1"] = in_process_ms(client, page_1)
    paths = {
        "ping": "/admin/bench-ping",
        "blank": "/admin/bench-blank",
        "list": "/admin/presets",
        "page": page,
        "page_24": page_24,
        "page_1": page_1,
    }
    results, busy = under_wrk(stack, app, paths)

    def round_median(name, key):
        return median([r[key] for r in results[name]])

    ping_p99, blank_p99, list_p99, page_p99 = (round_median(n, "p99") for n in ("ping", "blank", "list", "page"))
    for name, label in (
        ("blank", "trivial page (the admin's layout, nothing looked up)"),
        ("ping", "trivial signed-in answer (text, no template)"),
        ("list", "presets list (one preset)"),
    ):
        report.row(
            f"{label}: requests/s, p99",
            f"{round_median(name, 'rps'):,.0f} /s, {round_median(name, 'p99'):.1f} ms",
            "reference",
        )
    report.row(
        "preset page, 1,000 examples, first gallery page: requests/s, p99",
        f"{round_median('page', 'rps'):,.0f} /s, {page_p99:.1f} ms",
        "context",
    )
    report.row("  p99 vs the trivial page", f"{page_p99 / blank_p99:.1f} ×", "≤ 3 ×", page_p99 <= 3 * blank_p99)
    report.row("  p99 vs the text answer", f"{page_p99 / ping_p99:.1f} ×", "context (≤ 3 ×: the strict reading)")
    report.row("  p99 vs the presets list", f"{page_p99 / list_p99:.1f} ×", "context")
    report.row(
        "  the same page at 24 cards a page: requests/s, p99 vs the trivial page, in-process p50 ratio",
        f"{round_median('page_24', 'rps'):,.0f} /s, {round_median('page_24', 'p99') / blank_p99:.1f} ×, "
        f"{median(local['page_24']) / median(local['blank']):.1f} ×",
        "context (the decision raised on issue 32)",
    )
    report.row(
        "  the same page at 1 card a page (its floor: header, generate form, pool, gallery frame): p99 vs the trivial "
        "page, in-process p50 ratio",
        f"{round_median('page_1', 'p99') / blank_p99:.1f} ×, {median(local['page_1']) / median(local['blank']):.1f} ×",
        "context (the decision raised on issue 32)",
    )
    report.row(
        "in-process (test client, 1 thread): text answer / trivial page / preset page, p50 and p99",
        " / ".join(f"{median(local[n]):.1f}, {percentile(local[n], 99):.1f} ms" for n in ("ping", "blank", "page")),
        "context",
    )
    report.row(
        "  in-process p50 ratio: preset page / trivial page",
        f"{median(local['page']) / median(local['blank']):.1f} ×",
        "context",
    )
    report.row("machine busy during wrk", f"{busy:.2f} of {os.cpu_count()} cores", "context")
    report.note(
        f"{references} reference thumbnails; per round (p99 ms): "
        + "; ".join(f"{n} " + ", ".join(f"{r['p99']:.1f}" for r in rs) for n, rs in results.items())
    )
    report.note("sizing CPU samples (ms): " + json.dumps([round(v) for v in png_cpu]))
    report.publish()
