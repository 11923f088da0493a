"""Standalone use, for benchmarks: ``python -m tests.replicate_server --port 8787 --latency 2 --create-limit 600``."""

from __future__ import annotations

import argparse
import sys
import time

from tests.replicate_server.server import DEFAULT_TOKEN, ReplicateServer

# server attribute <- command-line option (argparse's dest)
_KNOBS = {
    "fail_rate": "fail_rate",
    "abort_rate": "abort_rate",
    "throttle_rate": "throttle_rate",
    "create_error_rate": "create_error_rate",
    "download_error_rate": "download_error_rate",
    "download_404_rate": "download_404_rate",
    "rate_limit_per_minute": "rate_limit_per_minute",
    "create_limit_per_minute": "create_limit",
    "create_burst": "create_burst",
    "read_limit_per_minute": "read_limit",
    "read_burst": "read_burst",
    "retry_after": "retry_after",
    "queue_delay": "queue_delay",
    "cancel_after_min": "cancel_after_min",
    "output_bytes": "output_bytes",
}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m tests.replicate_server", description="Fake Replicate API for tests and benchmarks."
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--token", default=DEFAULT_TOKEN)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--jitter", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--fail-rate", type=float, default=0.0)
    ap.add_argument("--abort-rate", type=float, default=0.0)
    ap.add_argument("--throttle-rate", type=float, default=0.0)
    ap.add_argument("--create-error-rate", type=float, default=0.0)
    ap.add_argument("--download-error-rate", type=float, default=0.0)
    ap.add_argument("--download-404-rate", type=float, default=0.0)
    ap.add_argument(
        "--rate-limit-per-minute", type=int, default=None, help="strict sliding-window create limit (no burst)"
    )
    ap.add_argument(
        "--create-limit", type=float, default=None, help="create token bucket: creates per minute (Replicate: 600)"
    )
    ap.add_argument("--create-burst", type=float, default=20, help="create bucket size")
    ap.add_argument(
        "--read-limit", type=float, default=None, help="read token bucket: other API calls per minute (Replicate: 3000)"
    )
    ap.add_argument("--read-burst", type=float, default=20, help="read bucket size")
    ap.add_argument("--retry-after", type=float, default=1.0)
    ap.add_argument("--queue-delay", type=float, default=0.0, help="seconds each prediction waits before it starts")
    ap.add_argument(
        "--cancel-after-min", type=float, default=5.0, help="smallest Cancel-After accepted (Replicate: 5 s)"
    )
    ap.add_argument("--output-bytes", type=int, default=4096)
    return ap


def _report(server: ReplicateServer) -> None:
    counts = server.call_counts()
    print(
        f"creates={counts['creates']} create_429s={counts['create_429s']} reads={counts['reads']} "
        f"read_429s={counts['read_429s']} gets={counts['gets']} downloads={counts['downloads']} "
        f"reads_by_endpoint={counts['reads_by_endpoint']}",
        file=sys.stderr,
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    server = ReplicateServer(
        token=args.token, latency=args.latency, jitter=args.jitter, seed=args.seed, host=args.host, port=args.port
    )
    for attr, dest in _KNOBS.items():
        setattr(server, attr, getattr(args, dest))
    server.start()
    print(server.url, flush=True)
    print(f"token: {server.token}  (REPLICATE_BASE_URL={server.url})", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        _report(server)
    return 0
