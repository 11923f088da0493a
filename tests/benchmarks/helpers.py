"""Shared pieces of the benchmarks: a stack of real consumers, job timing, /proc readings,
the printed table and the RESULTS.md summary.

Nothing here asserts anything about time: figures are printed next to their targets and
written to RESULTS.md (via results.json, so running one benchmark keeps the others' latest figures).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis as redis_lib

from app.jobs.account_limits import KEY as LIMIT_KEY  # the shared create bucket, reset between phases
from app.jobs.account_limits import READ_KEY  # the shared read budget, likewise
from tests.conftest import create_preset, post_generate
from tests.live_stack import Consumer, LiveWeb
from tests.replicate_server import busiest_window  # noqa: F401  (re-exported for the benchmarks)

HERE = Path(__file__).resolve().parent
RESULTS_JSON = HERE / "results.json"
RESULTS_MD = HERE / "RESULTS.md"
COMMAND = "make bench   (= .venv/bin/python -m pytest tests/benchmarks -s -p no:randomly --timeout=3600)"
TICKS = os.sysconf("SC_CLK_TCK")
FINAL = ("succeeded", "partial", "failed", "canceled")

# The app's defaults, spelled out: tests/conftest.py's base_env sets a test-only poll interval.
DEFAULTS = {
    "GENERATION_CONCURRENCY": "20",
    "CREATE_RATE_PER_MINUTE": "600",
    "REPLICATE_READS_PER_MINUTE": "1500",
    "REPLICATE_POLL_INTERVAL": "0.2",
}


def account_limits(server, creates: int = 600, reads: int = 3000, burst: int = 20):
    """Make the test server enforce Replicate's account limits (token buckets: 600 creates and 3,000
    other calls a minute, bursts of 20); `server.reset()` turns them off again."""
    server.create_limit_per_minute, server.read_limit_per_minute = creates, reads
    server.create_burst = server.read_burst = burst
    return server


# --------------------------------------------------------------------------- /proc
def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return pids


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def group_kb(pgid: int, field: str) -> int:
    """Sum of a /proc status field (VmHWM, VmRSS) over a process group (a consumer and any children)."""
    total = 0
    for pid in group_pids(pgid):
        try:
            total += status_kb(pid, field)
        except OSError:
            pass
    return total


class ProcessCpu:
    """CPU share of a process over an interval (the benchmark process hosts the Replicate-compatible server)."""

    def __init__(self, pid: int | None = None):
        self.pid = pid or os.getpid()
        self.start()

    def start(self):
        self.cpu0, self.wall0 = cpu_seconds(self.pid), time.monotonic()

    def share(self) -> float:
        return (cpu_seconds(self.pid) - self.cpu0) / max(1e-9, time.monotonic() - self.wall0)


class SystemCpu:
    """Busy share of the whole machine over an interval (from /proc/stat), in cores."""

    def __init__(self):
        self.start()

    @staticmethod
    def _read():
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = values[3] + values[4]
        return sum(values) - idle, sum(values)

    def start(self):
        self.busy0, self.total0 = self._read()
        self.wall0 = time.monotonic()

    def cores_busy(self) -> float:
        busy, _ = self._read()
        return (busy - self.busy0) / TICKS / max(1e-9, time.monotonic() - self.wall0)


# --------------------------------------------------------------------------- the stack
@dataclass
class JobRun:
    job_id: str
    preset_id: str
    accepted: float  # monotonic time of the 202
    finished: float | None = None
    status: str | None = None

    @property
    def seconds(self) -> float:
        return self.finished - self.accepted


class Stack:
    """Apps, consumers and the Replicate-compatible server of one benchmark (isolated queue)."""

    def __init__(self, make_app, queue_url: str, tmp_path: Path):
        self.make_app = make_app
        self.queue_url = queue_url
        self.tmp_path = tmp_path
        self.server = None
        self.consumers: list[Consumer] = []
        self.started = 0
        self.redis = redis_lib.Redis.from_url(queue_url)
        self._pg = None
        self.web: LiveWeb | None = None  # the app over HTTP, for webhooks (started by app(webhooks=True))

    def start_server(self, latency: float = 0.0, jitter: float = 0.0, seed: int = 1, **knobs):
        """The Replicate-compatible server, enforcing the account's limits unless `knobs` say otherwise."""
        from tests.replicate_server import ReplicateServer

        self.server = ReplicateServer(token="r8_test_token_not_real", latency=latency, jitter=jitter, seed=seed).start()
        account_limits(self.server)
        for name, value in knobs.items():
            setattr(self.server, name, value)
        return self.server

    def app(self, webhooks: bool = False, **env):
        """A fresh app (tables truncated) on PostgreSQL + the isolated Redis, at the defaults unless overridden.
        `webhooks`: the app is also served over HTTP here and PUBLIC_BASE_URL points at it, so creates ask the
        test server for webhooks and the consumers wait for them."""
        self.stop_consumers()
        settings = {**DEFAULTS, **{k: str(v) for k, v in env.items() if v is not None}}
        if webhooks:
            self.web = self.web or LiveWeb()
            settings["PUBLIC_BASE_URL"] = self.web.url
        app = self.make_app(queue=self.queue_url, replicate=self.server, **settings)
        if webhooks:
            self.web.app = app
        self.reset_limit()
        return app

    def reset_limit(self):
        """Empty the shared create and read buckets (earlier parts' calls must not count against the next part)."""
        self.redis.delete(LIMIT_KEY, READ_KEY)

    def start_consumers(self, app, count: int = 1, workers: int = 4) -> list[Consumer]:
        started = []
        for _ in range(count):
            consumer = Consumer(app.config["TEST_ENV"], self.tmp_path / f"consumer-{self.started}.log", workers)
            self.started += 1
            consumer.start()
            self.consumers.append(consumer)
            started.append(consumer)
        for consumer in started:
            consumer.wait_until_alive(app.extensions["pixelglow"].progress, 60)
        return started

    def stop_consumers(self):
        for consumer in self.consumers:
            consumer.stop()
        self.consumers = []

    def close(self):
        self.stop_consumers()
        if self.web is not None:
            self.web.close()
        if self.server is not None:
            self.server.stop()
        if self._pg is not None:
            self._pg.close()
        self.redis.close()

    # -- database -----------------------------------------------------------------
    def pg(self, app) -> psycopg.Connection:
        url = app.config["TEST_ENV"]["DATABASE_URL"]
        if self._pg is None or self._pg.closed:
            self._pg = psycopg.connect(url, autocommit=True)
        return self._pg

    def presets(self, app, count: int, prefix: str = "Bench") -> list[str]:
        client = app.test_client()
        return [create_preset(client, name=f"{prefix} {n:03d}")["id"] for n in range(count)]

    def post_job(self, client, preset_id: str, examples_per_model: int = 1) -> JobRun:
        response = post_generate(client, preset_id, {"examplesPerModel": examples_per_model})
        accepted = time.monotonic()
        assert response.status_code == 202, response.get_json()
        return JobRun(response.get_json()["jobId"], preset_id, accepted)

    def wait(self, app, runs: list[JobRun], timeout: float = 600.0, poll: float = 0.02) -> list[JobRun]:
        """Poll the job rows every `poll` s until every job has a final status; stamp when each got there."""
        pending = {r.job_id: r for r in runs if r.finished is None}
        conn = self.pg(app)
        deadline = time.monotonic() + timeout
        while pending:
            rows = conn.execute("SELECT id, status FROM jobs WHERE id = ANY(%s)", (list(pending),)).fetchall()
            now = time.monotonic()
            for job_id, status in rows:
                if status in FINAL:
                    run = pending.pop(job_id)
                    run.finished, run.status = now, status
            if not pending:
                break
            if now > deadline:
                tails = "\n".join(c.log_tail(1500) for c in self.consumers)
                raise AssertionError(f"{len(pending)} job(s) not final after {timeout} s\n{tails}")
            time.sleep(poll)
        return runs

    def run_jobs(self, app, jobs: list[tuple[str, int]], timeout: float = 600.0) -> list[JobRun]:
        client = app.test_client()
        runs = [self.post_job(client, preset_id, epm) for preset_id, epm in jobs]
        return self.wait(app, runs, timeout)

    def examples_stored(self, app, runs: list[JobRun]) -> int:
        return (
            self.pg(app)
            .execute("SELECT count(*) FROM gallery_examples WHERE job_id = ANY(%s)", ([r.job_id for r in runs],))
            .fetchone()[0]
        )

    def items_of(self, app, runs: list[JobRun]) -> int:
        return (
            self.pg(app)
            .execute("SELECT count(*) FROM job_items WHERE job_id = ANY(%s)", ([r.job_id for r in runs],))
            .fetchone()[0]
        )


def phases(server, run: JobRun, since: int = 0) -> dict:
    """Where a job's time went, from the server's records: 202 → first create → last create → last
    prediction done (its scheduled end) → final status seen in the job row."""
    creates = server.creates[since:]
    ends = [server._preds[c["id"]].end for c in creates]  # noqa: SLF001 - the test server's own records
    return {
        "pickup": min(c["time"] for c in creates) - run.accepted,
        "create_spread": max(c["time"] for c in creates) - min(c["time"] for c in creates),
        "last_done": max(ends) - run.accepted,
        "tail": run.finished - max(ends),
    }


def median(values) -> float:
    return statistics.median(values)


def percentile(values, p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


# --------------------------------------------------------------------------- reporting
def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            ram_kb = int(line.split()[1])

    def version(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout.strip().splitlines()[0]
        except Exception:
            return "?"

    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "ram_gb": round(ram_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "postgres": version(["psql", "--version"]),
        "redis": version(["redis-server", "--version"]),
    }


def other_test_sessions() -> int:
    """pytest processes on this machine other than this one (the machine may be shared with other test runs)."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(part.endswith(b"pytest") for part in cmdline[:3]) or b"pytest" in cmdline[1:3]:
                count += 1
    return count


def fmt(value, unit: str = "", digits: int = 2) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


class Report:
    """One benchmark's table: figure | value | target | verdict (verdict empty for context figures)."""

    def __init__(self, number: str, title: str, setup: str):
        self.number, self.title, self.setup = number, title, setup
        self.rows: list[list[str]] = []
        self.notes: list[str] = []
        self.load_at_start = os.getloadavg()[0]
        self.others_at_start = other_test_sessions()

    def row(self, figure: str, value: str, target: str = "", ok: bool | None = None):
        verdict = "" if ok is None else ("met" if ok else "MISSED")
        self.rows.append([figure, value, target, verdict])

    def note(self, text: str):
        self.notes.append(text)

    def text(self) -> str:
        header = ["figure", "value", "target", ""]
        widths = [max(len(r[i]) for r in self.rows + [header]) for i in range(4)]
        line = "  ".join("-" * w for w in widths)
        out = [
            f"Benchmark {self.number}: {self.title}",
            f"  {self.setup}",
            line,
            "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
            line,
        ]
        out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in self.rows]
        out.append(line)
        out += [f"  note: {n}" for n in self.notes]
        return "\n".join(out)

    def publish(self):
        """Print the table and keep it as the latest figures of this benchmark in results.json / RESULTS.md."""
        others = max(self.others_at_start, other_test_sessions())
        self.note(
            f"machine load: 1-min load average {self.load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} "
            f"at the end; other pytest sessions on the machine: {others}"
        )
        print("\n" + self.text() + "\n", flush=True)
        data = {}
        if RESULTS_JSON.exists():
            try:
                data = json.loads(RESULTS_JSON.read_text())
            except ValueError:
                data = {}
        data.setdefault("benchmarks", {})[self.number] = {
            "title": self.title,
            "setup": self.setup,
            "rows": self.rows,
            "notes": self.notes,
            "ran_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": machine(),
        }
        data["machine"] = data["benchmarks"][self.number]["machine"]
        data["command"] = COMMAND
        RESULTS_JSON.write_text(json.dumps(data, indent=2) + "\n")
        RESULTS_MD.write_text(render_markdown(data))


def on_cpu(m: dict | None) -> str:
    """Where a benchmark ran, when it recorded it (results kept from before it did say nothing)."""
    return f" on {m['nproc']} CPUs ({m['cpu']}), Linux {m['kernel']}" if m else ""


def render_markdown(data: dict) -> str:
    m = data["machine"]
    benches = data["benchmarks"]
    dates = sorted(b["ran_at"] for b in benches.values())
    out = [
        "# Benchmark results",
        "",
        f"Latest run: {dates[0][:16].replace('T', ' ')} – {dates[-1][:16].replace('T', ' ')}  ",
        f"Machine of the latest run: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gb']} GB RAM, Linux {m['kernel']}, "
        f"Python {m['python']}, {m['postgres']}, {m['redis']}. Benchmarks run at other times may have run on "
        "another machine of this kind: each says when and, where recorded, on which CPU.  ",
        f"Command: `{data['command']}`  ",
        "Everything on one machine: PostgreSQL, Redis, `huey_consumer -w 4 -k thread` processes and the "
        "Replicate-compatible test server (`tests/replicate_server/`, in the benchmark process).",
        "",
    ]

    def order(number: str):  # "8", then its variant "8w"
        digits = "".join(c for c in number if c.isdigit())
        return (int(digits) if digits else 99, number)

    for number in sorted(benches, key=order):
        b = benches[number]
        out += [
            f"## {number}. {b['title']}",
            "",
            b["setup"] + f" _(ran {b['ran_at'][:16].replace('T', ' ')}{on_cpu(b.get('machine'))})_",
            "",
            "| figure | value | target | |",
            "|---|---|---|---|",
        ]
        out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in r) + " |" for r in b["rows"]]
        if b["notes"]:
            out.append("")
            out += [f"- {n}" for n in b["notes"]]
        out.append("")
    return "\n".join(out)
