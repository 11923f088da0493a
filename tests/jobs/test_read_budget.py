"""The account's read budget and when predictions are read: every read pays, none fails an item."""

import threading
import time

import pytest

from app.core.database import db
from app.jobs.account_limits import READ_KEY, RedisTokenBucket
from app.jobs.api_usage import RedisApiUsage, SqliteApiUsage
from app.jobs.rows import recent_durations
from app.models import GalleryExample, Job, JobItem
from app.providers.base import ItemFailed
from app.providers.replicate.read_plan import MAX_STEP, Planner, range_of
from tests.conftest import create_admin, create_preset, post_generate, sign_in
from tests.doubles import LocalApiUsage
from tests.helpers import CountingLimiter, generator_for, spec


# -- the plan ---------------------------------------------------------------------------
def reads_until(plan, end: float) -> list[float]:
    """The read times of a prediction that ends at `end` (seconds after its create)."""
    times, last = [], None
    while last is None or last < end:
        last = plan.next_read(last)
        times.append(last)
    return times


@pytest.mark.fast
def test_with_history_the_first_read_comes_near_the_likely_end_then_short_steps():
    planner = Planner(min_step=0.2)
    history = [4 + 8 * n / 49 for n in range(50)]  # 4 … 12 s
    plan = planner.plan("NANO_BANANA", history)
    likely = range_of(history)
    step = plan.step(likely)
    assert step == pytest.approx((likely.hi - likely.lo) / 5) and step <= MAX_STEP
    times = reads_until(plan, 12.0)
    assert times[0] == pytest.approx(likely.lo + step)
    assert all(b - a == pytest.approx(step) for a, b in zip(times, times[1:], strict=False))
    assert len(times) <= 6, "at most one read per step across the likely range"
    assert times[-1] - 12.0 <= step


@pytest.mark.fast
def test_a_fast_provider_is_read_at_short_steps_and_a_stuck_prediction_less_and_less_often():
    plan = Planner(min_step=0.2).plan("NANO_BANANA", [2.0 + 0.01 * n for n in range(20)])
    assert reads_until(plan, 2.3) == pytest.approx([2.2, 2.4])
    times = reads_until(plan, 300.0)
    late = [b - a for a, b in zip(times, times[1:], strict=False) if a > 60]
    assert late and min(late) >= 5.0 - 1e-9 and len(times) < 80


@pytest.mark.fast
def test_without_history_one_scout_checks_the_default_and_a_fast_first_result_replaces_it():
    planner = Planner(min_step=0.2)
    scout, waiting = planner.plan("NANO_BANANA"), planner.plan("NANO_BANANA")
    assert scout.next_read(None) == pytest.approx(0.5), "the scout is read early"
    assert waiting.next_read(None) >= 4.0, "the others wait for the provider's default likely end"
    planner.learn("NANO_BANANA", 2.0)  # the scout's prediction took 2 s: faster than the default says
    assert waiting.next_read(None) < 2.5, "predictions already waiting are read sooner"
    scout.done()
    assert planner.plan("NANO_BANANA").next_read(None) < 2.5


@pytest.mark.fast
def test_the_scout_stops_scouting_once_it_outlives_the_defaults_earliest_end():
    planner = Planner(min_step=0.2)
    scout = planner.plan("NANO_BANANA")
    times = reads_until(scout, 9.0)
    early = [t for t in times if t < 4.0]
    assert len(early) <= 12 and all(b - a <= max(0.2, 0.25 * a) + 1e-9 for a, b in zip(early, early[1:], strict=False))
    assert planner.checked("NANO_BANANA")
    later = [t for t in times if t > 5.0]
    assert all(b - a >= 1.5 - 1e-9 for a, b in zip(later, later[1:], strict=False)), "then an ordinary plan"


@pytest.mark.fast
def test_a_first_result_inside_the_default_keeps_it():
    planner = Planner(min_step=0.2)
    planner.plan("NANO_BANANA").next_read(None)  # the scout
    waiting = planner.plan("NANO_BANANA")
    first = waiting.next_read(None)
    planner.learn("NANO_BANANA", 7.0)
    assert waiting.next_read(None) == first


# -- the budget -------------------------------------------------------------------------
def test_every_read_and_every_cancel_takes_a_token_from_the_read_budget(replicate_server, tmp_path):
    replicate_server.latency = 0.3
    reads, usage = CountingLimiter(), LocalApiUsage()
    generator = generator_for(replicate_server, tmp_path, read_limiter=reads, usage=usage)
    result = generator.run(spec(), lambda pid: None, threading.Event())
    assert result.prediction_seconds == pytest.approx(0.3, abs=0.1)
    generator.cancel(result.prediction_id)
    counts = replicate_server.call_counts()
    assert counts["reads"] == reads.taken >= 2, "each poll and the cancel took a token"
    summary = usage.summary()
    assert (summary["creates"], summary["reads"]) == (1, reads.taken)


def test_reads_refused_past_the_deadline_fail_the_item_and_cancel_its_prediction(replicate_server, tmp_path):
    replicate_server.latency = 0.1
    replicate_server.throttle_reads_for(60.0)
    generator = generator_for(replicate_server, tmp_path, deadline=1.5)
    started = time.monotonic()
    with pytest.raises(ItemFailed, match="gave up at the 2 s deadline"):
        generator.run(spec(), lambda pid: None, threading.Event())
    assert time.monotonic() - started < 5, "the reset hint (60 s) is not waited past the deadline"
    assert replicate_server.call_times(endpoint="predictions.cancel"), "a cancel was tried"
    assert len(replicate_server.creates) == 1


def test_two_consumers_share_one_read_budget(redis_client):
    consumers = [RedisTokenBucket(redis_client, per_minute=1500, key=READ_KEY) for _ in range(2)]
    waits = [consumers[n % 2].book() for n in range(40)]
    assert all(w == 0 for w in waits[:20]), "a short burst of 20 goes at once"
    interval = 61 / 1480
    assert waits[39] == pytest.approx(20 * interval, abs=0.05), "then ~24 reads a second between both"


@pytest.mark.parametrize("store", ["redis", "embedded"])
def test_api_usage_is_shared_between_processes(redis_client, tmp_path, store):
    """What the consumer counted, the web process shows: through Redis, or the embedded store's SQLite file."""
    if store == "redis":
        one, other = RedisApiUsage(redis_client), RedisApiUsage(redis_client)
    else:
        one, other = SqliteApiUsage(tmp_path / "progress.sqlite3"), SqliteApiUsage(tmp_path / "progress.sqlite3")
    for kind in ("create", "read", "read", "read_429"):
        one.record(kind)
    summary = other.summary()
    assert (summary["creates"], summary["reads"], summary["read_429s"], summary["read_429s_hour"]) == (1, 2, 1, 1)


# -- through the pipeline ---------------------------------------------------------------
def test_a_20_s_read_storm_is_waited_out_and_every_example_stored_once(make_app, immediate_huey, replicate_server):
    """Every read answers 429 for 20 s (as when the production app has spent the account's reads):
    the job waits it out — a read never fails an already-billed prediction — and nothing is created twice."""
    replicate_server.latency = 0.5
    replicate_server.throttle_reads_for(20.0)
    started = time.monotonic()
    app = make_app(replicate=replicate_server, PREDICTION_TIMEOUT="40")
    client = app.test_client()
    preset = create_preset(client)
    assert post_generate(client, preset["id"]).status_code == 202
    assert time.monotonic() - started >= 19, "the storm lasted its 20 s"
    counts = replicate_server.call_counts()
    with app.app_context():
        job = db.session.scalars(db.select(Job)).one()
        assert (job.status, job.done, job.failed) == ("succeeded", 20, 0), job.error
        stored = db.session.query(GalleryExample).count()
    assert stored == 20 and counts["creates"] / stored == 1.0
    assert counts["read_429s"] > 0
    summary = app.extensions["pixelglow"].api_usage().summary()
    assert summary["read_429s"] == counts["read_429s"]


def test_durations_are_kept_on_the_job_items_and_plan_the_next_job(make_app, immediate_huey, replicate_server):
    replicate_server.latency = 0.2
    app = make_app(replicate=replicate_server)
    client = app.test_client()
    preset = create_preset(client)
    assert post_generate(client, preset["id"]).status_code == 202
    with app.app_context():
        seconds = [i.prediction_seconds for i in db.session.query(JobItem)]
        assert len(seconds) == 20 and all(s == pytest.approx(0.2, abs=0.1) for s in seconds)
        assert sorted(recent_durations("NANO_BANANA", 50)) == pytest.approx(sorted(seconds))
        assert recent_durations("FLUX_PRO", 50) == ()


def test_the_jobs_page_shows_the_accounts_calls_against_its_limits(make_app, replicate_server):
    app = make_app(replicate=replicate_server)
    create_admin(app)
    usage = app.extensions["pixelglow"].api_usage()
    for kind in ["create"] * 3 + ["read"] * 7 + ["read_429"]:
        usage.record(kind)
    client = app.test_client()
    sign_in(client)
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert "Replicate account" in html
    assert "3 / 600" in html and "7 / 1,500" in html
    assert "1 answered 429 in the last hour" in html


def test_the_jobs_page_shows_no_account_in_offline_mode(admin_client):
    assert "Replicate account" not in admin_client.get("/admin/jobs").get_data(as_text=True)
