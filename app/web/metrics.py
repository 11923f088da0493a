"""`GET /metrics`: Prometheus's text format, for a scraper holding METRICS_TOKEN (its own token: a scraper never
holds an admin's). 404 while METRICS_TOKEN is unset, 401 without the right Bearer token (compared in constant time).

Every figure is read at scrape time from where all processes keep it, so any gunicorn worker on any machine
answers a scrape alike: jobs, items, the time to each example and spend from the database; heartbeats, the read
budget and the counters that consumers and web workers add to (Replicate calls, webhook deliveries) from Redis.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator

from flask import Blueprint, Response, abort, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from app.jobs import figures
from app.services import Services
from app.web.context import services

METRICS_PATH = "/metrics"
ENDPOINTS = ("create", "read")  # creates; every other call (reads, lists, cancels), as the account's limits count
log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)


@bp.get(METRICS_PATH)
def metrics() -> Response:
    token = services().settings.metrics_token
    if token is None:
        abort(404)
    scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        answer = Response("a Bearer token (METRICS_TOKEN) is needed\n", 401, mimetype="text/plain")
        answer.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return answer
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Figures(services()))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


class Figures:
    """A prometheus-client collector that reads each figure when asked (one per scrape)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        yield from self.database()
        yield from self.redis()

    def database(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("pixelglow_jobs", "Jobs by status (queued, running, succeeded, ...)", labels=["state"])
        for state, n in sorted(figures.jobs_by_status().items()):
            jobs.add_metric([state], n)
        yield jobs
        items = GaugeMetricFamily("pixelglow_job_items", "Job items (one per model) by outcome", labels=["outcome"])
        for state, n in sorted(figures.items_by_state().items()):
            items.add_metric([state], n)
        yield items
        waiting = figures.jobs_waiting()
        yield GaugeMetricFamily("pixelglow_queue_depth", "Jobs queued, not yet taken by a consumer", waiting)
        buckets, count, total = figures.time_to_example()
        bounds = [str(b) for b in figures.TIME_TO_EXAMPLE_BUCKETS] + ["+Inf"]
        yield HistogramMetricFamily(
            "pixelglow_time_to_example_seconds",
            "Seconds from a job's creation to each of its examples being stored",
            buckets=list(zip(bounds, [*buckets, count], strict=True)),
            sum_value=total,
        )
        spend = GaugeMetricFamily(
            "pixelglow_spend_month_usd", "USD spent this UTC month (the ledger), by provider", labels=["provider"]
        )
        for provider, amount in sorted(figures.spend_by_provider().items()):
            spend.add_metric([provider], float(amount))
        yield spend

    def redis(self) -> Iterator[Metric]:
        alive = len(self.services.progress.alive())
        yield GaugeMetricFamily("pixelglow_consumers_alive", "Consumers whose heartbeat is current", alive)
        counts = self.services.metric_counts()
        if counts is None:  # the embedded first-run setup: no shared counters, no shared read budget
            return
        totals = counts.read()
        calls = CounterMetricFamily(
            "pixelglow_replicate_calls", "Calls to Replicate by endpoint and status", labels=["endpoint", "status"]
        )
        for endpoint in ENDPOINTS:
            throttled = totals.get(f"calls:{endpoint}_429", 0)
            calls.add_metric([endpoint, "429"], throttled)
            calls.add_metric([endpoint, "not_429"], totals.get(f"calls:{endpoint}", 0) - throttled)
        yield calls
        hooks = CounterMetricFamily("pixelglow_webhook_deliveries", "Webhook deliveries by result", labels=["result"])
        for name, n in sorted(totals.items()):
            if name.startswith("webhooks:"):
                hooks.add_metric([name.removeprefix("webhooks:")], n)
        yield hooks
        limiter = self.services.read_limiter()
        left = getattr(limiter, "tokens_left", None)
        if left is not None:
            yield GaugeMetricFamily("pixelglow_read_budget_tokens", "Reads that could go out at once now", left())
