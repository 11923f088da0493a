"""`GET /metrics`: only with METRICS_TOKEN; every figure read at scrape time from the database and Redis, so two
gunicorn workers and two consumers give one truth, checked against the database and the test server's counts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from app.core.database import db
from app.models import Job, JobItem, SpendEntry
from tests.conftest import create_preset, post_generate, wait_for_job
from tests.helpers import PROJECT, free_port, wait_for_http
from tests.live_stack import Consumer, isolated_queue

pytestmark = pytest.mark.timeout(300)
METRICS_TOKEN = "scraper-token-0123456789abcdef"


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a scrape."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def labelled(figures: dict[tuple, float], name: str, label: str) -> dict[str, float]:
    return {dict(labels)[label]: value for (sample, labels), value in figures.items() if sample == name}


def test_without_the_token_401_and_unset_404(make_app):
    app = make_app(METRICS_TOKEN=METRICS_TOKEN)
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"}).status_code == 401
    admin = client.get("/metrics", headers={"Authorization": f"Bearer {app.config['TEST_ENV']['ADMIN_API_TOKEN']}"})
    assert admin.status_code == 401, "an admin token is not the scraper's"
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    assert samples(answer.get_data(as_text=True))[("pixelglow_consumers_alive", ())] == 0

    assert client.post("/hooks/replicate", data=b"{}").status_code == 401  # unsigned: refused, and counted
    figures = samples(client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(True))
    assert labelled(figures, "pixelglow_webhook_deliveries_total", "result") == {"refused": 1}
    assert make_app().test_client().get("/metrics").status_code == 404


@pytest.mark.fast
def test_a_short_metrics_token_is_refused(tmp_path):
    from app.core.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        load_settings({"INSTANCE_PATH": str(tmp_path), "METRICS_TOKEN": "short"})


EXPORTED = {
    "pixelglow_jobs",
    "pixelglow_job_items",
    "pixelglow_queue_depth",
    "pixelglow_consumers_alive",
    "pixelglow_time_to_example_seconds_bucket",
    "pixelglow_replicate_calls_total",
    "pixelglow_read_budget_tokens",
    "pixelglow_webhook_deliveries_total",
    "pixelglow_spend_month_usd",
}


@pytest.mark.fast
def test_the_alert_rules_and_the_dashboard_use_only_exported_metrics():
    import json
    import re

    import yaml

    rules = yaml.safe_load((PROJECT / "docs" / "prometheus-alerts.yml").read_text())["groups"][0]["rules"]
    dashboard = json.loads((PROJECT / "docs" / "grafana-dashboard.json").read_text())
    expressions = [rule["expr"] for rule in rules] + [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {name for expr in expressions for name in re.findall(r"pixelglow_[a-z_]+", expr)}
    assert used == EXPORTED, used ^ EXPORTED
    assert all(rule["annotations"]["summary"] for rule in rules)


def gunicorn(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=PROJECT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, f"http://127.0.0.1:{port}"


def scrape(url: str) -> dict[tuple, float]:
    answer = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return samples(answer.text)


def test_a_20_model_job_on_two_consumers_and_two_gunicorn_workers(make_app, replicate_server, tmp_path):
    replicate_server.latency, replicate_server.jitter = 1.0, 0.3
    replicate_server.throttle_rate = 0.15  # some creates answered 429, to be counted
    (tmp_path / "empty.env").write_text("")
    with isolated_queue() as url:
        app = make_app(queue=url, replicate=replicate_server, METRICS_TOKEN=METRICS_TOKEN)
        env = {
            **os.environ,
            **app.config["TEST_ENV"],
            "PYTHONPATH": str(PROJECT),
            "ENV_FILE": str(tmp_path / "empty.env"),
        }
        progress = app.extensions["pixelglow"].progress
        consumers = [Consumer(env, tmp_path / f"consumer-{n}.log", workers=2) for n in range(2)]
        web, web_url = gunicorn(env, tmp_path / "gunicorn.log")
        try:
            for consumer in consumers:
                consumer.start(progress)
            assert wait_for_http(f"{web_url}/healthz", time.monotonic() + 30) == 200
            assert httpx.get(f"{web_url}/metrics", timeout=10).status_code == 401

            client = app.test_client()
            job_id = post_generate(client, create_preset(client)["id"]).get_json()["jobId"]
            during = []
            while job_status(app, job_id) not in FINAL:
                during.append(scrape(web_url))
                time.sleep(0.2)
            job = wait_for_job(app, job_id, timeout=120)
            time.sleep(0.5)  # the consumers' last counts
            after = [scrape(web_url) for _ in range(4)]  # both workers answer some of these
        finally:
            for consumer in consumers:
                consumer.stop()
            os.killpg(web.pid, 15)
            web.wait(timeout=20)
    assert job.status == "succeeded", job.error
    assert during, "scraped while the job ran"
    assert any(labelled(s, "pixelglow_jobs", "state").get("running") == 1 for s in during)
    assert all(s[("pixelglow_consumers_alive", ())] == 2 for s in during)
    assert all(s == after[0] or _only_budget_differs(s, after[0]) for s in after)
    check_against_the_database_and_the_server(app, after[0], replicate_server)


FINAL = ("succeeded", "partial", "failed", "canceled")


def job_status(app, job_id: str) -> str:
    with app.app_context():
        return db.session.get(Job, job_id).status


def _only_budget_differs(one: dict, other: dict) -> bool:
    key = ("pixelglow_read_budget_tokens", ())
    return {k: v for k, v in one.items() if k != key} == {k: v for k, v in other.items() if k != key}


def check_against_the_database_and_the_server(app, figures: dict, server) -> None:
    with app.app_context():
        jobs = dict(db.session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        items = dict(db.session.execute(select(JobItem.state, func.count()).group_by(JobItem.state)).all())
        spend = dict(
            db.session.execute(
                select(SpendEntry.provider, func.sum(SpendEntry.amount)).group_by(SpendEntry.provider)
            ).all()
        )
    assert labelled(figures, "pixelglow_jobs", "state") == jobs == {"succeeded": 1}
    assert labelled(figures, "pixelglow_job_items", "outcome") == items == {"succeeded": 20}
    spent = labelled(figures, "pixelglow_spend_month_usd", "provider")
    assert spent == {p: float(v) for p, v in spend.items()} and spend["NANO_BANANA"] == Decimal("0.78")
    assert figures[("pixelglow_time_to_example_seconds_count", ())] == 20
    assert figures[("pixelglow_queue_depth", ())] == 0
    exported = {name for name, _ in figures} - {"pixelglow_time_to_example_seconds_count"}
    exported -= {"pixelglow_time_to_example_seconds_sum", "pixelglow_replicate_calls_created"}
    # A job without webhooks delivers none: that family then has no sample (it depends on what the Redis
    # database holds from earlier tests), so it may be absent here; every other family must be present.
    assert EXPORTED - {"pixelglow_webhook_deliveries_total"} <= {n for n in exported if not n.endswith("_created")}
    assert {n for n in exported if not n.endswith("_created")} <= EXPORTED

    counts = server.call_counts()
    calls = {
        (dict(labels)["endpoint"], dict(labels)["status"]): value
        for (name, labels), value in figures.items()
        if name == "pixelglow_replicate_calls_total"
    }
    assert counts["create_429s"] > 0, "the test server answered some creates 429"
    assert calls[("create", "not_429")] == counts["creates"] == 20
    assert calls[("create", "429")] == counts["create_429s"]
    assert calls[("read", "not_429")] == counts["reads"]
    assert calls[("read", "429")] == counts["read_429s"]
    assert 0 <= figures[("pixelglow_read_budget_tokens", ())] <= 20
    print(f"\ncalls {calls}; the server's own counts {counts['creates']}, {counts['create_429s']}, {counts['reads']}")
