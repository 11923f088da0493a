"""Spend (issue 18) on every way a job ends: every prediction created on Replicate is in the ledger at
the cost Replicate bills for it (canceled by the worker, canceled or failed by recovery, succeeded but
its output not kept), items that never got a prediction cost nothing, no reservation outlives its job,
and a job's spend counts in the month it was created (and reserved) in."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import update

from app.core.database import db
from app.jobs.pipeline import run_job
from app.jobs.recovery import finalize_without_worker, sweep_stale_jobs
from app.models import Job, JobItem, SpendBasis, SpendEntry, utcnow
from app.providers.catalog import get_provider
from app.providers.replicate.readings import Reading, ending_of, past_deadline
from app.spend.ledger import month_json, month_of, month_reserved, month_spend
from tests.conftest import auth_headers, create_preset, post_generate

pytestmark = pytest.mark.timeout(120)
SD_RATE = Decimal("0.00115")


def entries(app, job_id: str) -> dict[int, SpendEntry]:
    """The job's ledger rows by item id."""
    with app.app_context():
        rows = db.session.query(SpendEntry).filter_by(job_id=job_id).all()
        db.session.expunge_all()
    assert len({r.item_id for r in rows}) == len(rows), "one entry per item"
    return {r.item_id: r for r in rows}


def reserved_now(app) -> str:
    with app.app_context():
        return month_json(app.extensions["pixelglow"].settings)["reservedUsd"]


def queued_job(app, provider: str = "NANO_BANANA") -> tuple[str, list[int]]:
    """A job created and reserved through the API, with no worker to run it; returns its id and item ids."""
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    client = app.test_client()
    preset = create_preset(client, provider=provider)
    response = post_generate(client, preset["id"])
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["jobId"]
    with app.app_context():
        return job_id, [i.id for i in db.session.get(Job, job_id).items]


def create_predictions(app, server, job_id: str, latencies: list[float]) -> list[str]:
    """Predictions created at Replicate for the job's first items (one per latency), as a worker that
    then died would have left them: ids recorded, items processing, the job running, its heartbeat stale."""
    services = app.extensions["pixelglow"]
    generator = services.generator(offline=False)
    ids = []
    with app.app_context():
        job = db.session.get(Job, job_id)
        provider = get_provider(job.provider)
        for item, latency in zip(job.items, latencies, strict=False):
            server.latency = latency
            prediction_id = generator._send_create(provider, provider.build_input(job.prompt, item.reference_url, {}))
            item.prediction_id, item.state = prediction_id, "processing"
            ids.append(prediction_id)
        job.status, job.lease_owner, job.heartbeat_at = "running", "dead-worker", utcnow() - timedelta(minutes=5)
        db.session.commit()
    return ids


def per_second(entry: SpendEntry) -> Decimal:
    return (Decimal(str(entry.predict_time)) * SD_RATE).quantize(Decimal("0.000001"), ROUND_HALF_UP)


# -- recovery: a job ended without a worker --------------------------------------------------------------
def test_a_lost_job_canceled_by_the_sweep_records_what_its_predictions_cost(make_app, replicate_server):
    app = make_app(replicate=replicate_server, JOB_STALE_SECONDS="2", SPEND_LIMIT_PER_MONTH_USD="5")
    job_id, items = queued_job(app)
    assert reserved_now(app) == "0.78"
    finished, running = create_predictions(app, replicate_server, job_id, [0.05, 60.0])
    time.sleep(0.2)  # the first one has succeeded at Replicate by now
    with app.app_context():
        db.session.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))
        db.session.commit()
        actions = sweep_stale_jobs(app.extensions["pixelglow"], lambda: [], lambda job_id: None)
    assert actions == [(job_id, "canceled")]
    assert set(replicate_server.cancels) == {finished, running}, "both predictions got a cancel"
    ledger = entries(app, job_id)
    assert set(ledger) == set(items[:2]), "the 18 items that never got a prediction cost nothing"
    assert (ledger[items[0]].amount, ledger[items[0]].basis) == (Decimal("0.039"), SpendBasis.PER_IMAGE)
    assert (ledger[items[1]].amount, ledger[items[1]].basis) == (Decimal("0"), SpendBasis.PER_IMAGE)
    assert reserved_now(app) == "0", "the job's reservation is released"
    with app.app_context():
        assert month_spend() == Decimal("0.039")


def test_a_time_billed_job_failed_by_recovery_records_the_seconds_each_prediction_ran(make_app, replicate_server):
    app = make_app(replicate=replicate_server, PRICE_STABLE_DIFFUSION_PER_SECOND=str(SD_RATE), PREDICTION_TIMEOUT="30")
    job_id, items = queued_job(app, provider="STABLE_DIFFUSION")
    assert reserved_now(app) == "0.69"  # 20 x 30 s x $0.00115
    create_predictions(app, replicate_server, job_id, [0.05, 60.0])
    time.sleep(0.3)  # the second has run about 0.3 s when it is canceled
    with app.app_context():
        finalize_without_worker(app.extensions["pixelglow"], job_id, "failed", "The job failed on its last retry")
        assert {i.state for i in db.session.get(Job, job_id).items} == {"failed"}
    ledger = entries(app, job_id)
    assert set(ledger) == set(items[:2])
    for entry in ledger.values():
        assert entry.basis == SpendBasis.PER_SECOND and entry.predict_time and entry.predict_time > 0
        assert entry.amount == per_second(entry) > 0
    assert ledger[items[1]].predict_time >= 0.2, "the canceled one is billed for the time it ran"
    assert reserved_now(app) == "0"


def test_a_prediction_whose_cancel_gets_no_answer_is_recorded_at_its_estimate(make_app, replicate_server):
    app = make_app(replicate=replicate_server)
    job_id, items = queued_job(app)
    create_predictions(app, replicate_server, job_id, [60.0])
    replicate_server.throttle_reads_for(60.0)  # the cancel gets a 429: how it ended is unknown
    with app.app_context():
        finalize_without_worker(app.extensions["pixelglow"], job_id, "canceled", "Canceled by an admin")
    ledger = entries(app, job_id)
    assert list(ledger) == [items[0]]
    assert (ledger[items[0]].amount, ledger[items[0]].basis) == (Decimal("0.039"), SpendBasis.ESTIMATE)
    assert reserved_now(app) == "0"


def test_a_queued_job_canceled_before_it_started_costs_nothing_and_reserves_nothing(make_app, replicate_server):
    app = make_app(replicate=replicate_server, SPEND_LIMIT_PER_MONTH_USD="1.00")
    job_id, _ = queued_job(app)
    assert reserved_now(app) == "0.78"
    response = app.test_client().post(f"/api/admin/jobs/{job_id}/cancel", headers=auth_headers())
    assert response.get_json()["status"] == "canceled"
    assert entries(app, job_id) == {} and reserved_now(app) == "0"
    assert replicate_server.creates == [] and replicate_server.cancels == []


# -- the worker's own endings ------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["NANO_BANANA", "STABLE_DIFFUSION"])
def test_a_job_canceled_mid_run_records_each_canceled_prediction(make_app, replicate_server, provider):
    replicate_server.latency = 30.0
    app = make_app(replicate=replicate_server, PRICE_STABLE_DIFFUSION_PER_SECOND=str(SD_RATE), PREDICTION_TIMEOUT="60")
    job_id, items = queued_job(app, provider=provider)
    outcome: list = []

    def worker():
        with app.app_context():
            outcome.append(run_job(job_id, app.extensions["pixelglow"]))

    thread = threading.Thread(target=worker)
    thread.start()
    deadline = time.monotonic() + 30
    while len(replicate_server.creates) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reserved_now(app) != "0", "reserved while it runs"
    time.sleep(0.3)  # every prediction has run a little
    assert app.test_client().post(f"/api/admin/jobs/{job_id}/cancel", headers=auth_headers()).status_code == 202
    thread.join(30)
    assert outcome and outcome[0]["status"] == "canceled"
    ledger = entries(app, job_id)
    assert set(ledger) == set(items), "every created prediction is in the ledger"
    for entry in ledger.values():
        if provider == "NANO_BANANA":  # canceled before its image: Replicate bills nothing
            assert (entry.amount, entry.basis) == (Decimal("0"), SpendBasis.PER_IMAGE)
        else:  # billed for the seconds it ran before the cancel
            assert entry.basis == SpendBasis.PER_SECOND and entry.predict_time and entry.predict_time >= 0.2
            assert entry.amount == per_second(entry)
    assert reserved_now(app) == "0"


def test_an_output_that_cannot_be_kept_still_costs_its_price(make_app, immediate_huey, replicate_server):
    app = make_app(replicate=replicate_server, MAX_OUTPUT_BYTES="1024")  # the server's 4 KiB images are refused
    client = app.test_client()
    preset = create_preset(client)
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    job = client.get(f"/api/admin/jobs/{job_id}", headers=auth_headers()).get_json()
    assert job["status"] == "failed" and "refused" in job["items"][0]["error"]
    ledger = entries(app, job_id)
    assert len(ledger) == 20
    assert {(e.amount, e.basis) for e in ledger.values()} == {(Decimal("0.039"), SpendBasis.PER_IMAGE)}
    assert job["spendUsd"] == "0.78", "Replicate billed 20 succeeded predictions"
    assert reserved_now(app) == "0"


@pytest.mark.fast
def test_a_prediction_canceled_at_its_deadline_costs_what_the_cancels_answer_says():
    ran = Reading("canceled", error="prediction was canceled", predict_time=12.5)
    assert past_deadline(ran, "too late").predict_time == 12.5
    assert past_deadline(ran, "too late").status == "failed"
    done = Reading("succeeded", output="https://x/out.png", predict_time=3.0)
    assert past_deadline(done, "too late") is done, "succeeded meanwhile: kept (and billed)"
    assert past_deadline(None, "too late").predict_time is None
    assert ending_of(done).succeeded and ending_of(ran).predict_time == 12.5
    assert ending_of(None) is None and ending_of(Reading("processing")) is None


# -- the month rule ----------------------------------------------------------------------------------------
def test_a_job_counts_in_the_month_it_was_created_in_even_when_it_ends_in_the_next(make_app, replicate_server):
    app = make_app(replicate=replicate_server, SPEND_LIMIT_PER_MONTH_USD="1.00")
    job_id, _ = queued_job(app)
    now = utcnow()
    last_month_end = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(minutes=1)
    previous, current = month_of(last_month_end), month_of(now)
    with app.app_context():  # queued in the last minute of the previous month (the clock is the job's row)
        db.session.execute(update(Job).where(Job.id == job_id).values(created_at=last_month_end))
        db.session.commit()
        assert month_reserved(previous) == Decimal("0.78") and month_reserved(current) == 0
    other = create_preset(app.test_client(), name="Film Noir")
    assert post_generate(app.test_client(), other["id"]).status_code == 202, "this month's $1.00 is all left"
    with app.app_context():
        run_job(job_id, app.extensions["pixelglow"])  # ends now, in the next month
        assert {e.month for e in db.session.query(SpendEntry).filter_by(job_id=job_id)} == {previous}
        assert month_spend(previous) == Decimal("0.78") and month_spend(current) == 0
        assert month_reserved(previous) == 0
        assert db.session.query(JobItem).filter_by(job_id=job_id, state="succeeded").count() == 20
