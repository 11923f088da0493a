"""Benchmark 11: storage. The same 20 × 4 job with 2 MB outputs stored in S3 (moto's server on 127.0.0.1,
never AWS) and in the local folder, alternately in one run: job time and the consumer's peak RSS."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from tests.benchmarks.helpers import Report, cpu_seconds, fmt, group_kb, median

L, JITTER = 2.0, 0.25  # as benchmark 6
OUTPUT_BYTES = 2 * 1024 * 1024
ROUNDS = 3  # of each storage, alternating which goes first
MB = 1024  # /proc reports kB


@dataclass
class Round:
    storage: str  # "s3" or "local"
    seconds: float
    peak_kb: int  # VmHWM of the consumer: start-up + job
    idle_kb: int  # VmRSS after start-up, before the job
    stored: dict[str, int]  # key -> size, the job's originals and whatever else it stored (sizes)
    content_types: Counter


def s3_listing(moto_s3, bucket: str, prefix: str) -> tuple[dict[str, int], Counter]:
    """Every object the job left in the bucket, with the content type S3 serves it with."""
    keys = moto_s3.keys(bucket, prefix)
    s3 = moto_s3.client()
    types = Counter(s3.head_object(Bucket=bucket, Key=key)["ContentType"] for key in keys)
    return keys, types


def local_listing(app, prefix: str) -> tuple[dict[str, int], Counter]:
    root = app.extensions["pixelglow"].storage.root
    files = {str(p.relative_to(root)): p.stat().st_size for p in (root / prefix).rglob("*") if p.is_file()}
    return files, Counter(key.rsplit(".", 1)[-1] for key in files)


def one_round(stack, moto_s3, storage: str, bucket: str) -> Round:
    """A fresh app and consumer on `storage`, one 20 × 4 job; what it took, what the consumer held, what it stored."""
    app = stack.app(**(moto_s3.env(bucket) if storage == "s3" else {}))
    assert type(app.extensions["pixelglow"].storage).__name__ == ("S3Storage" if storage == "s3" else "MediaStorage")
    [preset] = stack.presets(app, 1, prefix=storage.upper())
    [consumer] = stack.start_consumers(app, 1)
    pgid = consumer.process.pid
    time.sleep(1.0)
    idle = group_kb(pgid, "VmRSS")
    [run] = stack.run_jobs(app, [(preset, 4)], timeout=300)
    peak = group_kb(pgid, "VmHWM")
    stack.stop_consumers()
    assert run.status == "succeeded" and stack.examples_stored(app, [run]) == 80, run.status
    prefix = f"examples/{preset}/"
    stored, types = s3_listing(moto_s3, bucket, prefix) if storage == "s3" else local_listing(app, prefix)
    originals = [size for key, size in stored.items() if not key.rsplit(".", 1)[0].endswith(("-thumb", "-medium"))]
    assert len(originals) == 80 and min(originals) >= OUTPUT_BYTES - 64, (storage, len(originals), min(originals))
    if storage == "s3":
        app.extensions["pixelglow"].storage.delete_tree(prefix)  # moto keeps objects in memory: free them
    return Round(storage, run.seconds, peak, idle, stored, types)


def test_bench_11_storage_s3_against_the_local_folder(stack, moto_s3):
    stack.start_server(latency=L, jitter=JITTER, seed=1111, output_bytes=OUTPUT_BYTES)
    bucket = moto_s3.new_bucket("bench-11-media")
    report = Report(
        "11",
        "Storage: a 20 × 4 job with 2 MB outputs to S3 (moto) and to the local folder",
        f"L = {L} s, jitter ±{JITTER} s, outputs {OUTPUT_BYTES:,} bytes (padded JPEG); 1 consumer (-w 4 -k thread) "
        f"per round, defaults; {ROUNDS} rounds of each storage in one run, alternating which goes first; S3 is moto's "
        "server mode in a subprocess on 127.0.0.1 (S3_ENDPOINT_URL, path-style, the same machine), media deleted "
        "after each S3 round; peak RSS = VmHWM over the consumer's process group; medians over the rounds.",
    )
    moto_cpu0 = cpu_seconds(moto_s3.process.pid)
    rounds: list[Round] = []
    for n in range(ROUNDS):
        for storage in ("local", "s3") if n % 2 == 0 else ("s3", "local"):
            rounds.append(one_round(stack, moto_s3, storage, bucket))
    moto_cpu = cpu_seconds(moto_s3.process.pid) - moto_cpu0
    s3 = [r for r in rounds if r.storage == "s3"]
    local = [r for r in rounds if r.storage == "local"]

    s3_time, local_time = median(r.seconds for r in s3), median(r.seconds for r in local)
    ratio = s3_time / local_time
    report.row("job time, S3 / local (medians)", fmt(ratio), "≤ 1.10", ratio <= 1.10)
    report.row("  job time to S3 (median; each round)", f"{s3_time:.2f} s ({seconds(s3)})", "context")
    report.row(
        "  job time to the local folder (median; each round)", f"{local_time:.2f} s ({seconds(local)})", "context"
    )
    worst = max(r.peak_kb for r in s3)
    report.row("peak consumer RSS, S3 (worst of the rounds)", f"{worst / MB:.1f} MB", "≤ 200 MB", worst / MB <= 200)
    report.row("  peak consumer RSS, S3: each round", megabytes(r.peak_kb for r in s3), "context")
    report.row("  peak consumer RSS, local: each round", megabytes(r.peak_kb for r in local), "context")
    report.row(
        "  consumer idle after start-up (VmRSS), S3 / local (medians)",
        f"{median(r.idle_kb for r in s3) / MB:.1f} MB / {median(r.idle_kb for r in local) / MB:.1f} MB",
        "context",
    )
    last = s3[-1]
    sizes = last.stored.values()
    report.row(
        "objects listed in the bucket after a job (last S3 round)",
        f"{len(last.stored)}, {min(sizes):,}–{max(sizes):,} bytes",
        "context: 80 outputs (and their sizes, if stored)",
    )
    report.row(
        "  their content types", ", ".join(f"{t} × {c}" for t, c in sorted(last.content_types.items())), "context"
    )
    report.row("  one of their keys", min(last.stored), "context")
    report.row("moto server CPU over the S3 rounds", f"{moto_cpu:.1f} s ({moto_cpu / len(s3):.1f} s a job)", "context")
    report.publish()


def seconds(rounds: list[Round]) -> str:
    return ", ".join(f"{r.seconds:.2f}" for r in rounds)


def megabytes(values) -> str:
    return ", ".join(f"{v / MB:.1f}" for v in values) + " MB"
