"""Benchmark 3: the consumer's own work per item, with a provider that answers at once (zero latency)."""

from __future__ import annotations

from tests.benchmarks.helpers import ProcessCpu, Report, SystemCpu, cpu_seconds, fmt

JOBS, MODELS = 50, 20


def test_bench_3_consumer_cpu_per_item(stack):
    # Limits far above the load, ours and the server's: this measures our own work, not the account's
    # 600 creates and 3,000 reads a minute (1,000 creates).
    server = stack.start_server(
        latency=0.0, jitter=0.0, seed=303, create_limit_per_minute=None, read_limit_per_minute=None
    )
    app = stack.app(CREATE_RATE_PER_MINUTE=100_000, REPLICATE_READS_PER_MINUTE=100_000)
    report = Report(
        "3",
        "Own work per item: 50 jobs × 20 models through one consumer, zero latency",
        "latency 0; 1 consumer (-w 4 -k thread), concurrency 20, poll interval 0.2 s, create limit and read "
        "budget raised to 100,000/min (and the server's account limits off) so only our own work is measured; "
        "consumer CPU = utime + stime from /proc, from after its start-up to the last job's final status.",
    )
    presets = stack.presets(app, JOBS)
    [consumer] = stack.start_consumers(app, 1)
    pid = consumer.process.pid
    client = app.test_client()
    cpu0 = cpu_seconds(pid)
    server_cpu, machine = ProcessCpu(), SystemCpu()
    runs = [stack.post_job(client, p, 1) for p in presets]
    stack.wait(app, runs, timeout=600)
    cpu = cpu_seconds(pid) - cpu0
    server_share, machine_busy = server_cpu.share(), machine.cores_busy()
    wall = max(r.finished for r in runs) - min(r.accepted for r in runs)
    items = JOBS * MODELS
    assert all(r.status == "succeeded" for r in runs), {r.status for r in runs}
    assert stack.examples_stored(app, runs) == items and len(server.creates) == items

    per_item = cpu / items * 1000
    report.row("consumer CPU per item", fmt(per_item, " ms", 1), "≤ 25 ms", per_item <= 25)
    report.row("wall per item (first 202 → last final) / items", fmt(wall / items * 1000, " ms", 1), "context")
    report.row("consumer CPU total / wall", f"{cpu:.1f} s / {wall:.1f} s ({cpu / wall:.0%} of a core)", "context")
    report.row("GETs per item at the server", fmt(server.gets / items, "", 2), "context")
    report.row("benchmark process (server + 50 POSTs + polling) CPU", f"{server_share:.0%} of a core", "context")
    report.row("whole machine busy", f"{machine_busy:.2f} of {__import__('os').cpu_count()} cores", "context")
    report.publish()
