"""Benchmark 2: 20 × 4 jobs at the defaults (one job; three at once through two consumers), then the
same three-job shape under a global limit of 60 creates a minute over 150 creates."""

from __future__ import annotations

from tests.benchmarks.helpers import ProcessCpu, Report, account_limits, busiest_window, fmt, phases

L, JITTER = 2.0, 0.25


def use_up_models(stack, app, preset_id: str, keep_per_gender: int) -> None:
    """Mark all but `keep_per_gender` models of each gender as used, so the preset's next job is smaller."""
    registry = app.extensions["pixelglow"].registry()
    rows = [(preset_id, m.id) for gender in ("male", "female") for m in registry.of_gender(gender)[keep_per_gender:]]
    with stack.pg(app).cursor() as cur:
        cur.executemany(
            "INSERT INTO preset_model_usage (id, preset_id, model_id, state, used_at) "
            "VALUES (md5(random()::text), %s, %s, 'used', now())",
            rows,
        )


def test_bench_2_jobs_of_80_items_and_the_global_limit(stack):
    server = stack.start_server(latency=L, jitter=JITTER, seed=202)
    report = Report(
        "2",
        "20 models × 4 examples; three jobs at once; a global limit of 60 creates a minute",
        f"L = {L} s, jitter ±{JITTER} s; consumers run -w 4 -k thread; defaults (concurrency 20, "
        "600 creates/min, 1,500 reads/min); the server enforces the account's limits (600 creates, 3,000 other "
        "calls a minute, bursts of 20; 60 creates a minute in the last part); time from the 202 to the final status.",
    )

    # (a) one 20 × 4 job, one consumer
    app = stack.app()
    stack.start_consumers(app, 1)
    [preset] = stack.presets(app, 1)
    since = len(server.creates)
    [run] = stack.run_jobs(app, [(preset, 4)], timeout=300)
    assert run.status == "succeeded" and stack.examples_stored(app, [run]) == 80
    split = phases(server, run, since)
    target = 1.25 * 4 * L
    report.row(
        "one 20 × 4 job: job time", fmt(run.seconds, " s"), f"≤ {target:.1f} s (1.25 × 4 × L)", run.seconds <= target
    )
    report.row("  job time / (4 × L)", fmt(run.seconds / (4 * L)), "≤ 1.25", run.seconds / (4 * L) <= 1.25)
    report.row(
        "  202 → last prediction done / last done → final",
        f"{split['last_done']:.2f} s / {split['tail']:.2f} s",
        "context",
    )

    # (b) three 20 × 4 jobs at once, two consumers
    app = stack.app()
    stack.start_consumers(app, 2)
    presets = stack.presets(app, 3)
    server.reset()
    account_limits(server)
    cpu = ProcessCpu()
    runs = stack.run_jobs(app, [(p, 4) for p in presets], timeout=300)
    server_cpu = cpu.share()
    assert all(r.status == "succeeded" for r in runs) and stack.examples_stored(app, runs) == 240
    times = [r.seconds for r in runs]
    makespan = max(r.finished for r in runs) - min(r.accepted for r in runs)
    report.row(
        "three 20 × 4 jobs at once (2 consumers): job times",
        ", ".join(fmt(t, " s") for t in times),
        "context: 240 creates, bounded by the 600/min limit (burst 18, then ~9.5 a second)",
    )
    report.row("  all three done (first 202 → last final)", fmt(makespan, " s"), "context")
    report.row(
        "  creates / 429s (creates + reads)",
        f"{len(server.creates)} / {server.throttled + server.read_throttled}",
        "240 / 0",
        len(server.creates) == 240 and server.throttled + server.read_throttled == 0,
    )
    report.note(
        f"three jobs at once: the benchmark process (Replicate-compatible server) used {server_cpu:.0%} of a core"
    )

    # (c) the same shape, 150 creates, global limit 60 a minute (the server enforces 60 too, like Replicate)
    app = stack.app(CREATE_RATE_PER_MINUTE=60)
    presets = stack.presets(app, 3)
    use_up_models(stack, app, presets[2], keep_per_gender=5)  # third job: 10 models × 1
    server.reset()
    account_limits(server, creates=60)
    server.rate_limit_per_minute = 60
    stack.start_consumers(app, 2)
    runs = stack.run_jobs(app, [(presets[0], 4), (presets[1], 3), (presets[2], 1)], timeout=420)
    stored = stack.examples_stored(app, runs)
    assert stack.items_of(app, runs) == 150
    assert all(r.status == "succeeded" for r in runs) and stored == 150, [(r.status, stored) for r in runs]
    creates = [c["time"] for c in server.creates]
    busiest = busiest_window(creates, 60.0)
    makespan = max(r.finished for r in runs) - min(r.accepted for r in runs)
    report.row(
        "limit 60/min, 150 creates (80 + 60 + 10 items, 2 consumers): busiest 60 s window at the server",
        str(busiest),
        "≤ 60",
        busiest <= 60,
    )
    report.row(
        "  429s drawn (creates + reads)",
        str(server.throttled + server.read_throttled),
        "0",
        server.throttled + server.read_throttled == 0,
    )
    report.row("  creates accepted", str(len(server.creates)), "150", len(server.creates) == 150)
    report.row(
        "  first burst (creates within 1 s of the first)",
        str(sum(1 for t in creates if t - min(creates) <= 1.0)),
        "context: our burst of 18, then the steady rate",
    )
    report.row("  all done (first 202 → last final)", fmt(makespan, " s"), "context: ≥ 120 s + L by the limit")
    report.publish()
