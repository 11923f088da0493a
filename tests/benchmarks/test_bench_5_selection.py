"""Benchmark 5: model selection on PostgreSQL with registries of 72, 1,000 and 10,000 models, and
0 or 100,000 usage rows belonging to other presets."""

from __future__ import annotations

import json
import random
import time

from app.core.database import db
from app.models import Preset
from app.pool.selection import choose_models, lock_preset, select_models_for_preset
from tests.benchmarks.helpers import Report, fmt, median, percentile
from tests.doubles import get_registry, taken_model_ids

SIZES = (72, 1_000, 10_000)
OTHER_ROWS = 100_000
OTHER_PRESETS = 100  # × 1,000 rows each
REPEATS = 200


def write_registry(path, size: int):
    half = size // 2
    data = {
        g: [
            {"id": f"{g}_{n:05d}", "gender": g, "s3Url": f"https://models.example/{g}/{g}_{n:05d}.png"}
            for n in range(half)
        ]
        for g in ("male", "female")
    }
    path.write_text(json.dumps(data))
    return path


def add_other_usage(conn, preset_ids: list[str], rows: int):
    """`rows` usage rows spread over `preset_ids`, model ids drawn from the 10,000-model registry, via COPY."""
    rng = random.Random(5)
    per_preset = rows // len(preset_ids)
    names = [f"{g}_{n:05d}" for g in ("male", "female") for n in range(5_000)]
    with conn.cursor() as cur:
        with cur.copy("COPY preset_model_usage (id, preset_id, model_id, state, used_at) FROM STDIN") as copy:
            k = 0
            for preset_id in preset_ids:
                for model_id in rng.sample(names, per_preset):
                    copy.write_row((f"bench{k:027d}", preset_id, model_id, "used", "2026-01-01 00:00:00"))
                    k += 1
        cur.execute("ANALYZE preset_model_usage")


def time_selections(registry_path, preset_id: str) -> tuple[list[float], list[float]]:
    """Per selection: (a) choose_models alone on the taken set, (b) the whole reservation as a request does it:
    lock the preset, select_models_for_preset (read taken ids, choose, add 20 rows), flush; then roll back."""
    rng = random.Random(1)
    choose, full = [], []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        preset = lock_preset(preset_id)
        assert preset is not None
        selection = select_models_for_preset(preset_id, get_registry(registry_path), 20, rng=rng)
        db.session.flush()
        full.append(time.perf_counter() - t0)
        db.session.rollback()
        assert len(selection.models) == 20

        registry = get_registry(registry_path)
        taken = taken_model_ids(preset_id)
        db.session.rollback()
        t0 = time.perf_counter()
        choose_models(registry, taken, 20, rng)
        choose.append(time.perf_counter() - t0)
    return choose, full


def ms(seconds: float) -> float:
    return seconds * 1000


def report_cases(report, results) -> None:
    for rows in (0, OTHER_ROWS):
        for size in SIZES:
            choose, full = results[(size, rows)]
            value = (
                f"{ms(median(full)):.2f} ms (p95 {ms(percentile(full, 95)):.2f}; "
                f"choose_models {ms(median(choose)):.2f})"
            )
            label = f"selection, {size:,} models, {rows:,} other rows"
            if size == 10_000 and rows == OTHER_ROWS:
                report.row(label, value, "≤ 10 ms", ms(median(full)) <= 10)
            else:
                report.row(label, value, "context")


def test_bench_5_selection_scales_with_the_registry_not_with_other_presets(stack, tmp_path):
    app = stack.app()
    report = Report(
        "5",
        "Model selection on PostgreSQL: registry size and other presets' usage rows",
        f"One preset with no usage of its own; {OTHER_PRESETS} other presets × 1,000 usage rows for the "
        f"100,000 case (COPY, then ANALYZE); {REPEATS} selections per case, each in a transaction rolled "
        "back: lock_preset + select_models_for_preset (20 models) + flush; choose_models also timed alone.",
    )
    registries = {size: write_registry(tmp_path / f"models-{size}.json", size) for size in SIZES}
    results = {}
    with app.app_context():
        target = Preset(name="Selection target", prompt="p", provider="NANO_BANANA", settings={})
        others = [
            Preset(name=f"Other {n:03d}", prompt="p", provider="NANO_BANANA", settings={}) for n in range(OTHER_PRESETS)
        ]
        db.session.add_all([target, *others])
        db.session.commit()
        target_id, other_ids = target.id, [p.id for p in others]
        for size in SIZES:
            get_registry(registries[size])  # parse once; requests reuse the cached registry
        for rows in (0, OTHER_ROWS):
            if rows:
                add_other_usage(stack.pg(app), other_ids, rows)
            for size in SIZES:
                time_selections(registries[size], target_id)  # warm up (plans, caches)
                results[(size, rows)] = time_selections(registries[size], target_id)
        db.session.remove()

    report_cases(report, results)
    for rows in (0, OTHER_ROWS):
        growth = median(results[(10_000, rows)][1]) / median(results[(72, rows)][1])
        report.row(
            f"growth 72 → 10,000 models ({rows:,} other rows)",
            fmt(growth, " ×", 1),
            f"≤ {10_000 / 72:.0f} × (linear)",
            growth <= 10_000 / 72,
        )
    for size in SIZES:
        flat = median(results[(size, OTHER_ROWS)][1]) / median(results[(size, 0)][1])
        report.row(f"100,000 / 0 other rows, {size:,} models", fmt(flat, " ×"), "≈ 1 × (flat; ≤ 1.25)", flat <= 1.25)
    report.publish()
