"""Benchmark 8: the account — three admins start a 20 × 1 job at once, both Replicate account limits on.

Latencies uniform 8 ± 4 s, the project's defaults (600 creates and 1,500 reads a minute of the account's
3,000), an empty duration history at the start; the server enforces Replicate's limits (600 creates and
3,000 other calls a minute, bursts of 20) and answers 429 above them. Run twice: reading predictions
(no PUBLIC_BASE_URL, benchmark 8), and with webhooks (8w: the app served over HTTP in this process,
PUBLIC_BASE_URL pointing at it, the test server POSTing a signed webhook when each prediction ends).
"""

from __future__ import annotations

from tests.benchmarks.helpers import Report, account_limits, fmt
from tests.replicate_server import percentile

L, JITTER = 8.0, 4.0
JOBS, CREATE_LIMIT, READ_LIMIT, BURST = 3, 600, 3000, 20


def create_bound(creates: int, per_minute: int = CREATE_LIMIT, burst: int = BURST) -> float:
    """Seconds the account's create limit needs for `creates`: a burst at once, then the steady rate."""
    return max(0, creates - burst) * 60.0 / per_minute


def run(stack, webhooks: bool):
    server = stack.start_server(latency=L, jitter=JITTER, seed=808)
    account_limits(server, CREATE_LIMIT, READ_LIMIT, BURST)
    targets = {"calls": 1.2, "p95": 0.5} if webhooks else {"calls": 4.0, "p95": 1.5}
    report = Report(
        "8w" if webhooks else "8",
        "The account: three 20 × 1 jobs at once on three presets, both account limits enforced"
        + (", with webhooks" if webhooks else ""),
        f"L = {L} ± {JITTER} s (uniform); 1 consumer (-w 4 -k thread) at the project's defaults; the server "
        f"enforces {CREATE_LIMIT} creates and {READ_LIMIT} other calls a minute (token buckets, burst {BURST}); "
        "empty duration history at the start; time from the 202 to the final status."
        + (
            " Webhooks on: the app served by werkzeug in the benchmark process (PUBLIC_BASE_URL), the signing "
            "secret read from the server once, fallback poll every 30 s."
            if webhooks
            else ""
        ),
    )
    app = stack.app(webhooks=webhooks)
    stack.start_consumers(app, 1)
    presets = stack.presets(app, JOBS)
    runs = stack.run_jobs(app, [(p, 1) for p in presets], timeout=300)
    assert all(r.status == "succeeded" for r in runs), [r.status for r in runs]
    stored = stack.examples_stored(app, runs)
    assert stored == 20 * JOBS

    counts = server.call_counts()
    calls = counts["api_calls"] / stored
    throttled = counts["create_429s"] + counts["read_429s"]
    delays = server.download_delays()
    p95 = percentile(delays, 95)
    slowest = max(p["ended"] - p["created"] for p in server.prediction_times())
    bound = create_bound(len(server.creates)) + slowest
    worst = max(r.seconds for r in runs)
    report.row(
        "calls to Replicate per stored example (create included)",
        fmt(calls),
        f"≤ {targets['calls']:g}",
        calls <= targets["calls"],
    )
    report.row(
        "  creates / reads (polls, cancels, the webhook secret) / 429s",
        f"{counts['create_calls']} / {counts['reads']} / {throttled}",
        "context",
    )
    report.row("429s drawn (creates + reads)", str(throttled), "0", throttled == 0)
    report.row(
        "prediction end → output fetched: p50 / p95 / max",
        f"{percentile(delays, 50):.2f} s / {p95:.2f} s / {max(delays):.2f} s",
        f"p95 ≤ {targets['p95']:g} s",
        p95 <= targets["p95"],
    )
    report.row(
        "worst job / bound (creates at the limit + slowest latency)",
        f"{worst:.2f} s / {bound:.2f} s = {worst / bound:.2f}",
        "≤ 1.10",
        worst / bound <= 1.1,
    )
    report.row("job times", ", ".join(fmt(r.seconds, " s") for r in runs), "context")
    if webhooks:
        statuses = sorted({str(w["status"]) for w in server.webhooks})
        report.row("webhooks delivered / answers", f"{len(server.webhooks)} / {', '.join(statuses)}", "context")
    report.note("reads by endpoint: " + ", ".join(f"{k} {v}" for k, v in sorted(counts["reads_by_endpoint"].items())))
    report.publish()


def test_bench_8_three_jobs_inside_the_account_limits(stack):
    run(stack, webhooks=False)


def test_bench_8w_three_jobs_with_webhooks(stack):
    run(stack, webhooks=True)
