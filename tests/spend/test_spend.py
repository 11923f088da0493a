"""Spend (issue 18): what each ended prediction cost, kept in a ledger that `jobs prune` leaves alone."""

from __future__ import annotations

import threading
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

import pytest

from app.core.database import db
from app.models import Job, SpendBasis, SpendEntry
from app.spend.ledger import charge_for, job_spend, month_spend, preset_spend
from tests.conftest import auth_headers, create_admin, create_preset, post_generate, sign_in

PRICES = SimpleNamespace(
    prices={"NANO_BANANA": 0.039, "FLUX_PRO": 0.04, "STABLE_DIFFUSION": 0.0093},
    prices_per_second={"STABLE_DIFFUSION": 0.000225},
)


@pytest.mark.fast
@pytest.mark.parametrize(
    "provider, succeeded, offline, predict_time, amount, basis",
    [
        ("NANO_BANANA", True, False, 4.2, "0.039", SpendBasis.PER_IMAGE),  # official success = price
        ("FLUX_PRO", True, False, None, "0.04", SpendBasis.PER_IMAGE),
        ("NANO_BANANA", False, False, 4.2, "0", SpendBasis.PER_IMAGE),  # official failure = 0
        ("STABLE_DIFFUSION", True, False, 7.0, "0.001575", SpendBasis.PER_SECOND),  # predict_time x rate
        ("STABLE_DIFFUSION", False, False, 3.0, "0.000675", SpendBasis.PER_SECOND),  # failure costs the same
        ("STABLE_DIFFUSION", False, False, None, "0", SpendBasis.PER_SECOND),  # never ran: no predict_time
        ("NANO_BANANA", True, True, None, "0", SpendBasis.OFFLINE),  # offline placeholders cost 0
        ("STABLE_DIFFUSION", True, True, None, "0", SpendBasis.OFFLINE),
    ],
)
def test_each_ended_prediction_costs_what_its_billing_says(provider, succeeded, offline, predict_time, amount, basis):
    charge = charge_for(PRICES, provider, succeeded, offline, predict_time)
    assert charge.amount == Decimal(amount) and isinstance(charge.amount, Decimal)
    assert charge.basis == basis


def fail_first(replicate_server) -> list:
    lock, failed = threading.Lock(), []

    def fail(model, payload):
        with lock:
            if failed:
                return False
            failed.append(model)
            return True

    replicate_server.fail_when = fail
    return failed


def entries(app, **where) -> list[SpendEntry]:
    with app.app_context():
        rows = db.session.query(SpendEntry).filter_by(**where).all()
        db.session.expunge_all()
        return rows


def totals(app, job_id, preset_id) -> tuple[Decimal, Decimal, Decimal]:
    with app.app_context():
        return job_spend(job_id), preset_spend(preset_id), month_spend()


def test_official_job_records_price_per_stored_image_and_nothing_for_the_failed_one(
    make_app, immediate_huey, replicate_server
):
    fail_first(replicate_server)
    app = make_app(replicate=replicate_server)
    client = app.test_client()
    preset = create_preset(client)
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    rows = entries(app, job_id=job_id)
    assert len(rows) == 20 and {r.basis for r in rows} == {SpendBasis.PER_IMAGE}
    assert sorted(r.amount for r in rows) == [Decimal("0")] + [Decimal("0.039")] * 19
    job, preset_total, month = totals(app, job_id, preset["id"])
    assert job == preset_total == month == sum(r.amount for r in rows) == Decimal("0.741")


def test_time_billed_job_records_predict_time_times_rate_for_successes_and_failures(
    make_app, immediate_huey, replicate_server
):
    fail_first(replicate_server)
    replicate_server.latency = 0.05  # predictions run long enough to have a predict_time
    app = make_app(replicate=replicate_server, PRICE_STABLE_DIFFUSION_PER_SECOND="0.00115")
    client = app.test_client()
    preset = create_preset(client, provider="STABLE_DIFFUSION")
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    with app.app_context():
        assert db.session.get(Job, job_id).failed == 1
    rows = entries(app, job_id=job_id)
    assert len(rows) == 20 and {r.basis for r in rows} == {SpendBasis.PER_SECOND}
    for row in rows:  # the failed one too: Replicate bills the seconds it ran
        assert row.predict_time is not None and row.predict_time > 0
        expected = (Decimal(str(row.predict_time)) * Decimal("0.00115")).quantize(Decimal("0.000001"), ROUND_HALF_UP)
        assert row.amount == expected
    job, preset_total, month = totals(app, job_id, preset["id"])
    assert job == preset_total == month == sum(r.amount for r in rows) > 0


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_offline_job_records_zero_and_says_offline(make_app, immediate_huey, database):
    app = make_app(database=database)
    client = app.test_client()
    preset = create_preset(client)
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    rows = entries(app, job_id=job_id)
    assert len(rows) == 20 and {(r.basis, r.amount) for r in rows} == {(SpendBasis.OFFLINE, Decimal("0"))}
    assert totals(app, job_id, preset["id"]) == (0, 0, 0)


def test_totals_add_up_over_jobs_and_presets(make_app, immediate_huey, replicate_server):
    app = make_app(replicate=replicate_server)
    client = app.test_client()
    first, second = create_preset(client), create_preset(client, name="Film Noir")
    one = post_generate(client, first["id"]).get_json()["jobId"]
    two = post_generate(client, first["id"]).get_json()["jobId"]
    three = post_generate(client, second["id"], {"examplesPerModel": 2}).get_json()["jobId"]
    with app.app_context():
        jobs = [job_spend(j) for j in (one, two, three)]
        assert jobs == [Decimal("0.78"), Decimal("0.78"), Decimal("1.56")]
        assert preset_spend(first["id"]) == jobs[0] + jobs[1] and preset_spend(second["id"]) == jobs[2]
        assert month_spend() == sum(jobs)


def test_jobs_prune_leaves_the_months_spend_unchanged(make_app, immediate_huey, replicate_server):
    app = make_app(replicate=replicate_server)
    client = app.test_client()
    preset = create_preset(client)
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    assert client.get(f"/api/admin/jobs/{job_id}", headers=auth_headers()).get_json()["status"] == "succeeded"
    with app.app_context():
        before = month_spend()
    assert before == Decimal("0.78")
    result = app.test_cli_runner().invoke(args=["jobs", "prune", "--older-than", "0"])
    assert "Removed 1 finished jobs" in result.output, result.output
    with app.app_context():
        assert db.session.get(Job, job_id) is None
        assert month_spend() == before and preset_spend(preset["id"]) == before


# -- the monthly budget -------------------------------------------------------------------------------
@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_a_job_within_the_limit_passes_and_the_next_gets_a_409_with_whats_left(
    make_app, immediate_huey, replicate_server, database
):
    app = make_app(database=database, replicate=replicate_server, SPEND_LIMIT_PER_MONTH_USD="1.00")
    client = app.test_client()
    preset = create_preset(client)
    first = post_generate(client, preset["id"])
    assert first.status_code == 202, first.get_json()  # 20 x 1 at $0.039 = $0.78
    with app.app_context():
        assert month_spend() == Decimal("0.78")
    second = post_generate(client, preset["id"])
    assert second.status_code == 409
    error = second.get_json()["error"]
    assert "$0.22 is left" in error and "$0.78" in error and "$1.00" in error, error
    assert len(replicate_server.creates) == 20


def test_parallel_requests_cannot_overshoot_the_limit_together(make_app, replicate_server):
    app = make_app(replicate=replicate_server, SPEND_LIMIT_PER_MONTH_USD="2.00")  # no worker: jobs stay queued
    client = app.test_client()
    presets = [create_preset(client, name=f"Preset {n}")["id"] for n in range(5)]
    barrier, answers = threading.Barrier(5), []

    def ask(preset_id):
        own = app.test_client()
        barrier.wait()
        answers.append(post_generate(own, preset_id).status_code)

    threads = [threading.Thread(target=ask, args=(p,)) for p in presets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [202, 202, 409, 409, 409]  # $0.78 each: two fit in $2.00, a third would not
    with app.app_context():
        assert db.session.query(Job).count() == 2


def test_the_api_shows_spend_of_job_preset_and_month(make_app, immediate_huey, replicate_server):
    app = make_app(replicate=replicate_server, SPEND_LIMIT_PER_MONTH_USD="2.00")
    client = app.test_client()
    preset = create_preset(client)
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    assert client.get(f"/api/admin/jobs/{job_id}", headers=auth_headers()).get_json()["spendUsd"] == "0.78"
    assert client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).get_json()["spendUsd"] == "0.78"
    month = client.get("/api/admin/spend", headers=auth_headers()).get_json()
    assert (month["spentUsd"], month["reservedUsd"], month["limitUsd"], month["leftUsd"]) == ("0.78", "0", "2", "1.22")


def test_the_jobs_page_shows_the_months_spend_against_the_limit(make_app, immediate_huey, replicate_server):
    app = make_app(replicate=replicate_server, SPEND_LIMIT_PER_MONTH_USD="2.00")
    create_admin(app)
    client = app.test_client()
    sign_in(client)
    preset = create_preset(client)
    post_generate(client, preset["id"])
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "$0.78 spent, $0.00 reserved by running jobs of a $2.00 monthly limit: $1.22 left." in page
