"""Benchmark 6: peak memory (RSS) of a consumer running a 20 × 4 job whose outputs are 2 MB each."""

from __future__ import annotations

import threading
import time

from tests.benchmarks.helpers import Report, group_kb

L, JITTER = 2.0, 0.25
OUTPUT_BYTES = 2 * 1024 * 1024


def test_bench_6_consumer_peak_rss_with_2mb_outputs(stack):
    stack.start_server(latency=L, jitter=JITTER, seed=606, output_bytes=OUTPUT_BYTES)
    app = stack.app()
    report = Report(
        "6",
        "Peak RSS of a consumer: one 20 × 4 job with 2 MB outputs",
        f"L = {L} s, jitter ±{JITTER} s, outputs {OUTPUT_BYTES:,} bytes (padded JPEG; a thumbnail and a medium "
        "size made of each, from its 192 px picture: benchmark 9 measures sizing real photographs); 1 consumer "
        "(-w 4 -k thread), defaults; VmHWM / VmRSS from /proc/<pid>/status summed over the consumer's "
        "process group (one process with -k thread); RSS also sampled every 20 ms.",
    )
    [preset] = stack.presets(app, 1)
    [consumer] = stack.start_consumers(app, 1)
    pgid = consumer.process.pid
    time.sleep(1.0)
    idle_rss, idle_hwm = group_kb(pgid, "VmRSS"), group_kb(pgid, "VmHWM")

    samples, done = [], threading.Event()

    def sample():
        while not done.is_set():
            samples.append(group_kb(pgid, "VmRSS"))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    [run] = stack.run_jobs(app, [(preset, 4)], timeout=300)
    done.set()
    sampler.join()
    hwm = group_kb(pgid, "VmHWM")
    assert run.status == "succeeded" and stack.examples_stored(app, [run]) == 80
    storage = app.extensions["pixelglow"].storage
    files = [p for p in storage.root.rglob("*") if p.is_file() and not p.name.startswith(".")]
    resized = [p for p in files if p.name.endswith(("-thumb.webp", "-medium.webp"))]  # each output's two sizes
    sizes = [p.stat().st_size for p in files if p not in resized]
    assert len(sizes) == 80 and min(sizes) >= OUTPUT_BYTES - 64, (len(sizes), min(sizes, default=0))
    assert len(resized) == 160, len(resized)

    mb = 1024
    report.row("peak consumer RSS (VmHWM: start-up + job)", f"{hwm / mb:.1f} MB", "≤ 150 MB", hwm / mb <= 150)
    report.row("  highest sampled VmRSS during the job", f"{max(samples) / mb:.1f} MB", "context")
    report.row(
        "  consumer idle after start-up (VmRSS / VmHWM)", f"{idle_rss / mb:.1f} MB / {idle_hwm / mb:.1f} MB", "context"
    )
    report.row(
        "  growth over idle (peak sampled − idle RSS)",
        f"{(max(samples) - idle_rss) / mb:.1f} MB",
        f"context: 80 outputs = {80 * OUTPUT_BYTES / 1024 / 1024:.0f} MB were streamed",
    )
    report.row("  job time", f"{run.seconds:.2f} s", "context")
    report.row(
        "  files stored / bytes each", f"{len(sizes)} / {min(sizes):,}–{max(sizes):,}", "80 / ≈ 2 MB", len(sizes) == 80
    )
    report.row("  sizes stored (thumbnail + medium)", f"{len(resized)}", "160", len(resized) == 160)

    # Context, not the acceptance shape: the same consumer process with all 4 of its workers busy (4 jobs at once).
    stack.stop_consumers()
    presets = stack.presets(app, 4, prefix="Four")
    [consumer] = stack.start_consumers(app, 1)
    runs = stack.run_jobs(app, [(p, 4) for p in presets], timeout=300)
    assert all(r.status == "succeeded" for r in runs) and stack.examples_stored(app, runs) == 320
    four = group_kb(consumer.process.pid, "VmHWM")
    report.row(
        "context: 4 such jobs at once in one consumer (all 4 workers busy): VmHWM",
        f"{four / mb:.1f} MB",
        "context (not the acceptance shape)",
    )
    report.publish()
