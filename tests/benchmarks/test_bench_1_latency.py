"""Benchmark 1: one 20 × 1 job at L = 2 s ± 0.25 s, the project's defaults next to the seed's sequential design."""

from __future__ import annotations

from tests.benchmarks.helpers import ProcessCpu, Report, fmt, median, phases

L, JITTER = 2.0, 0.25
CONCURRENT_RUNS = 5


def test_bench_1_job_time_against_latency(stack):
    server = stack.start_server(latency=L, jitter=JITTER, seed=101)
    report = Report(
        "1",
        "One job, 20 models × 1 example: concurrent vs the seed's sequential design",
        f"L = {L} s, jitter ±{JITTER} s; 1 consumer (-w 4 -k thread); time from the 202 to the final "
        f"status (job row polled every 20 ms); defaults run {CONCURRENT_RUNS}×, sequential once; the server "
        "enforces the account's limits (600 creates, 3,000 other calls a minute, bursts of 20); the duration "
        "history is empty at the first job.",
    )

    concurrent, sequential, split = [], None, []
    for concurrency in (None, "1"):  # the defaults, then the seed's sequential design
        app = stack.app(GENERATION_CONCURRENCY=concurrency)
        stack.start_consumers(app, 1)
        presets = stack.presets(app, CONCURRENT_RUNS if concurrency is None else 1)
        cpu = ProcessCpu()
        for preset_id in presets:
            since = len(server.creates)
            [run] = stack.run_jobs(app, [(preset_id, 1)], timeout=300)
            assert run.status == "succeeded", run
            assert stack.examples_stored(app, [run]) == 20
            if concurrency is None:
                concurrent.append(run.seconds)
                split.append(phases(server, run, since))
            else:
                sequential = run.seconds
        server_cpu = cpu.share()
        stack.stop_consumers()

    job = median(concurrent)
    report.row(
        f"job time, defaults (median of {CONCURRENT_RUNS})",
        fmt(job, " s"),
        f"≤ {1.3 * L:.2f} s (1.3 × L)",
        job <= 1.3 * L,
    )
    report.row("job time / L, defaults (median)", fmt(job / L), "≤ 1.30", job / L <= 1.3)
    report.row(
        "job time / L, defaults (each run)",
        ", ".join(fmt(t / L) for t in concurrent),
        "≤ 1.30",
        max(concurrent) / L <= 1.3,
    )
    report.row(
        "first job after the consumer starts (empty duration history) / L",
        fmt(concurrent[0] / L),
        "≤ 1.40",
        concurrent[0] / L <= 1.4,
    )
    p = {k: median([s[k] for s in split]) for k in split[0]}
    report.row("  202 → first create (pickup)", fmt(p["pickup"], " s"), "context (medians)")
    report.row("  first → last create", fmt(p["create_spread"], " s"), "context")
    report.row("  202 → last prediction done", fmt(p["last_done"], " s"), f"context (L + max jitter ≈ {L + JITTER} s)")
    report.row("  last prediction done → final status", fmt(p["tail"], " s"), "context")
    report.row("job time, sequential (concurrency 1)", fmt(sequential, " s"), f"≈ 20 × L = {20 * L:.0f} s")
    report.row("sequential / concurrent", fmt(sequential / job, " ×", 1), "≥ 12 ×", sequential / job >= 12)
    counts = server.call_counts()
    throttled = counts["create_429s"] + counts["read_429s"]
    report.row(
        "creates at the server / 429s (creates + reads)",
        f"{len(server.creates)} / {throttled}",
        f"{20 * (CONCURRENT_RUNS + 1)} / 0",
        len(server.creates) == 20 * (CONCURRENT_RUNS + 1) and throttled == 0,
    )
    report.row("  reads per prediction (all runs)", fmt(counts["reads"] / len(server.creates)), "context")
    report.note(
        f"benchmark process (hosts the Replicate-compatible server) CPU during the sequential run: "
        f"{server_cpu:.0%} of a core"
    )
    report.publish()


def test_bench_1w_job_time_with_webhooks(stack):
    """The same 20 × 1 job with webhooks on: each item is woken by its prediction's webhook, nothing is read."""
    server = stack.start_server(latency=L, jitter=JITTER, seed=101)
    report = Report(
        "1w",
        "One job, 20 models × 1 example, with webhooks",
        f"L = {L} s, jitter ±{JITTER} s; 1 consumer (-w 4 -k thread) at the defaults, run {CONCURRENT_RUNS}×; the "
        "app served by werkzeug in the benchmark process (PUBLIC_BASE_URL) receives the test server's signed "
        "webhooks; account limits enforced; empty duration history at the first job.",
    )
    app = stack.app(webhooks=True)
    stack.start_consumers(app, 1)
    times, split = [], []
    for preset_id in stack.presets(app, CONCURRENT_RUNS):
        since = len(server.creates)
        [run] = stack.run_jobs(app, [(preset_id, 1)], timeout=300)
        assert run.status == "succeeded", run
        assert stack.examples_stored(app, [run]) == 20
        times.append(run.seconds)
        split.append(phases(server, run, since))
    report.row(
        "first job after the consumer starts (empty duration history) / L",
        fmt(times[0] / L),
        "≤ 1.25",
        times[0] / L <= 1.25,
    )
    report.row(
        f"job time / L (median of {CONCURRENT_RUNS})", fmt(median(times) / L), "≤ 1.30", median(times) <= 1.3 * L
    )
    report.row("job time / L (each run)", ", ".join(fmt(t / L) for t in times), "context")
    p = {k: median([s[k] for s in split]) for k in split[0]}
    report.row("  last prediction done → final status (median)", fmt(p["tail"], " s"), "context")
    counts = server.call_counts()
    throttled = counts["create_429s"] + counts["read_429s"]
    report.row(
        "creates / reads / 429s",
        f"{counts['create_calls']} / {counts['reads']} / {throttled}",
        "429s: 0",
        throttled == 0,
    )
    report.publish()
