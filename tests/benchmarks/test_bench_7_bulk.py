"""Benchmark 7: bulk — 100 presets × 20 models queued at once, two consumers, a global limit of 1,200 a minute."""

from __future__ import annotations

import bisect
import os

from tests.benchmarks.helpers import ProcessCpu, Report, SystemCpu, busiest_window, cpu_seconds, fmt

L, JITTER = 1.0, 0.25
PRESETS, LIMIT = 100, 1_200


def window_counts(times: list[float], seconds: float = 60.0, step: float = 0.1) -> list[int]:
    """Creates in every window [t, t + seconds) that starts at the first create and ends by the last one."""
    times = sorted(times)
    counts, t = [], times[0]
    while t + seconds <= times[-1]:
        counts.append(bisect.bisect_left(times, t + seconds) - bisect.bisect_left(times, t))
        t += step
    return counts


def script_calls(redis_client) -> int:
    """EVALSHA + EVAL calls Redis has served so far (the create limiter runs one script per attempt)."""
    stats = redis_client.info("commandstats")
    return sum(stats.get(name, {}).get("calls", 0) for name in ("cmdstat_evalsha", "cmdstat_eval"))


def test_bench_7_bulk_sustains_the_create_limit(stack):
    server = stack.start_server(latency=L, jitter=JITTER, seed=707, create_limit_per_minute=LIMIT)
    app = stack.app(CREATE_RATE_PER_MINUTE=LIMIT)
    report = Report(
        "7",
        "Bulk: 100 presets × 20 models queued at once, 2 consumers, limit 1,200 creates a minute",
        f"L = {L} s, jitter ±{JITTER} s; 2 consumers (-w 4 -k thread), concurrency 20; all 100 jobs queued "
        f"before the consumers start; the server enforces {LIMIT} creates/min too (a sliding window and a token "
        "bucket, burst 20) and 3,000 other calls a minute; reads at the default budget (1,500/min); rates from "
        "the server's create timestamps.",
    )
    presets = stack.presets(app, PRESETS)
    server.rate_limit_per_minute = LIMIT
    client = app.test_client()
    runs = [stack.post_job(client, p, 1) for p in presets]
    server_cpu, machine = ProcessCpu(), SystemCpu()
    evals0 = script_calls(stack.redis)
    consumers = stack.start_consumers(app, 2)
    consumer_cpu0 = sum(cpu_seconds(c.process.pid) for c in consumers)
    stack.wait(app, runs, timeout=600)
    server_share, machine_busy = server_cpu.share(), machine.cores_busy()
    consumer_cpu = sum(cpu_seconds(c.process.pid) for c in consumers) - consumer_cpu0
    evals = script_calls(stack.redis) - evals0
    assert all(r.status == "succeeded" for r in runs), {r.status for r in runs}
    assert stack.examples_stored(app, runs) == PRESETS * 20

    times = sorted(c["time"] for c in server.creates)
    span = times[-1] - times[0]
    counts = window_counts(times)
    first_minute = sum(1 for t in times if t < times[0] + 60)
    sustained = min(counts) / LIMIT if counts else len(times) / max(span, 1e-9) * 60 / LIMIT
    report.row(
        "sustained creates/min, worst full 60 s window while the queue had work",
        f"{min(counts)} / min = {sustained:.1%} of the limit" if counts else "n/a",
        "≥ 95 % of 1,200",
        sustained >= 0.95,
    )
    report.row(
        "  mean over full 60 s windows",
        f"{sum(counts) / len(counts):.0f} / min = {sum(counts) / len(counts) / LIMIT:.1%}" if counts else "n/a",
        "context",
    )
    report.row("  creates in the first 60 s", f"{first_minute} = {first_minute / LIMIT:.1%} of the limit", "context")
    counts = server.call_counts()
    throttled = counts["create_429s"] + counts["read_429s"]
    report.row(
        "  busiest 60 s window / 429s (creates + reads)",
        f"{busiest_window(times)} / {throttled}",
        "≤ 1,200 / 0",
        busiest_window(times) <= LIMIT and throttled == 0,
    )
    report.row(
        "  reads per prediction / busiest 60 s of reads",
        f"{counts['reads'] / len(times):.2f} / {busiest_window(server.call_times('read'))}",
        "context (budget 1,500/min)",
    )
    report.row("  creates accepted", str(len(times)), f"{PRESETS * 20}")
    report.row("  first create → last create", fmt(span, " s", 1), "context")
    report.row(
        "  all jobs done (first 202 → last final)",
        fmt(max(r.finished for r in runs) - min(r.accepted for r in runs), " s", 1),
        "context",
    )
    report.row(
        "  Replicate-compatible server process CPU / machine busy",
        f"{server_share:.0%} of a core / {machine_busy:.2f} of {os.cpu_count()} cores",
        "context",
    )
    report.row(
        "  limiter script calls (Redis EVALSHA) per create", fmt(evals / len(times), "", 1), "context (1 = no waiting)"
    )
    report.row(
        "  consumers' CPU (both) / per item",
        f"{consumer_cpu:.1f} s / {consumer_cpu / len(times) * 1000:.1f} ms",
        "context",
    )
    buckets = [sum(1 for t in times if k * 5 <= t - times[0] < (k + 1) * 5) for k in range(int(span // 5) + 1)]
    report.note("creates per 5 s from the first create: " + " ".join(str(b) for b in buckets))
    report.publish()
