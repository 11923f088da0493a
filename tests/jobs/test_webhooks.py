"""Issue #11: signed webhooks from Replicate, with polling as the fallback, and Cancel-After on creates.

End-to-end tests run the job inline (Huey's immediate mode) while the app is served over real HTTP
(`LiveWeb`), so the Replicate-compatible test server POSTs its signed webhooks to `/hooks/replicate`.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import sqlite3
import threading
import time
from urllib.parse import urlsplit

import pytest

from app.core.config import ConfigError, load_settings
from app.core.database import db
from app.jobs.webhook_completions import SqliteCompletions
from app.models import GalleryExample
from tests.conftest import REDIS_TEST_URL, base_env, create_preset, post_generate, wait_for_job
from tests.helpers import HOOK, SECRET, wait_until
from tests.live_stack import LiveWeb
from tests.replicate_server import sign_webhook
from tests.tcp_proxy import TcpProxy


@pytest.fixture
def live_web():
    web = LiveWeb()
    yield web
    web.close()


def hooked_app(make_app, server, web, queue="redis", **env):
    """An app whose creates ask for webhooks to `web`, served by `web`."""
    app = make_app(queue=queue, replicate=server, PUBLIC_BASE_URL=web.url, **env)
    web.app = app
    return app


def run_one_job(app):
    client = app.test_client()
    preset = create_preset(client)
    response = post_generate(client, preset["id"])
    assert response.status_code == 202, response.get_json()
    return wait_for_job(app, response.get_json()["jobId"])


def prediction_gets(server) -> int:
    return server.call_counts()["reads_by_endpoint"].get("predictions.get", 0)


def stored_examples(app) -> int:
    with app.app_context():
        return db.session.query(GalleryExample).count()


# --------------------------------------------------------------------------- end to end
@pytest.mark.parametrize("queue", ["redis", "embedded"])
def test_creates_ask_for_a_webhook_and_the_items_use_it_instead_of_reading(
    make_app, immediate_huey, replicate_server, live_web, queue
):
    replicate_server.latency = 0.3
    app = hooked_app(make_app, replicate_server, live_web, queue=queue)
    job = run_one_job(app)

    assert job.status == "succeeded"
    assert stored_examples(app) == 20
    for create in replicate_server.creates:
        assert create["webhook"] == f"{live_web.url}{HOOK}"
        assert create["webhook_events_filter"] == ["completed"]
        assert create["cancel_after"] == 600  # PREDICTION_TIMEOUT, sent as a Cancel-After header
    assert prediction_gets(replicate_server) == 0  # no read: each item was woken by its webhook
    assert replicate_server.call_counts()["reads_by_endpoint"].get("webhooks.default.secret") == 1
    assert {w["status"] for w in replicate_server.webhooks} == {200}


def test_a_dropped_webhook_is_caught_by_the_fallback_poll(make_app, immediate_huey, replicate_server, live_web):
    replicate_server.latency = 0.2
    replicate_server.webhook_drop_rate = 1.0
    app = hooked_app(make_app, replicate_server, live_web, WEBHOOK_FALLBACK_POLL_SECONDS="0.5")
    job = run_one_job(app)

    assert job.status == "succeeded" and stored_examples(app) == 20
    assert len(replicate_server.webhook_dropped) == 20
    assert 20 <= prediction_gets(replicate_server) <= 40  # one fallback read each (a second at most)


def test_a_webhook_after_the_fallback_stored_the_example_is_harmless(
    make_app, immediate_huey, replicate_server, live_web
):
    replicate_server.latency = 0.2
    replicate_server.webhook_delay = 2.0
    app = hooked_app(make_app, replicate_server, live_web, WEBHOOK_FALLBACK_POLL_SECONDS="0.3")
    job = run_one_job(app)
    assert job.status == "succeeded" and stored_examples(app) == 20

    wait_until(lambda: len(replicate_server.webhooks) >= 20)
    assert {w["status"] for w in replicate_server.webhooks} == {200}
    assert stored_examples(app) == 20
    with app.app_context():
        assert db.session.get(type(job), job.id).status == "succeeded"


def test_repeated_and_reordered_deliveries_change_nothing(make_app, immediate_huey, replicate_server, live_web):
    replicate_server.latency = 0.2
    replicate_server.webhook_duplicate_rate = 1.0
    replicate_server.webhook_reorder_window = 0.3
    app = hooked_app(make_app, replicate_server, live_web)
    job = run_one_job(app)

    assert job.status == "succeeded" and stored_examples(app) == 20
    wait_until(lambda: len(replicate_server.webhooks) >= 40)
    assert {w["status"] for w in replicate_server.webhooks} == {200}
    assert stored_examples(app) == 20
    assert prediction_gets(replicate_server) == 0


@pytest.mark.parametrize("forge", ["bad_signature", "stale_timestamp", "missing_signature"])
def test_forged_webhooks_are_refused_and_the_fallback_poll_finishes_the_job(
    make_app, immediate_huey, replicate_server, live_web, forge
):
    replicate_server.latency = 0.2
    replicate_server.webhook_forge = forge
    replicate_server.webhook_retry_delays = []
    app = hooked_app(make_app, replicate_server, live_web, WEBHOOK_FALLBACK_POLL_SECONDS="0.5")
    job = run_one_job(app)

    assert job.status == "succeeded" and stored_examples(app) == 20
    wait_until(lambda: len(replicate_server.webhooks) >= 20)
    assert {w["status"] for w in replicate_server.webhooks} == {401}
    completions = app.extensions["pixelglow"].completions()
    assert all(completions.get(c["id"]) is None for c in replicate_server.creates)


@pytest.mark.parametrize("never", ["starts", "ends"])
def test_a_prediction_past_its_timeout_ends_at_replicate_and_is_reported_failed(
    make_app, immediate_huey, replicate_server, live_web, never
):
    if never == "starts":
        replicate_server.queue_delay = math.inf
    else:
        replicate_server.latency = math.inf
    app = hooked_app(make_app, replicate_server, live_web, PREDICTION_TIMEOUT="5")
    job = run_one_job(app)

    assert job.status == "failed"
    expected = "aborted" if never == "starts" else "canceled"
    assert {p["status"] for p in replicate_server.prediction_times()} == {expected}
    assert {c["cancel_after"] for c in replicate_server.creates} == {5}
    assert not replicate_server.cancels  # Replicate ended them (Cancel-After), not our backstop
    with app.app_context():
        reasons = {item.error for item in db.session.get(type(job), job.id).items}
    assert all(expected in (reason or "") for reason in reasons), reasons


# --------------------------------------------------------------------------- the handler
def signed(body: str, webhook_id: str = "msg_1", timestamp: int | None = None, secret: str = SECRET) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_webhook(secret, webhook_id, timestamp, body),
        "Content-Type": "application/json",
    }


def prediction_body(prediction_id: str = "p-known", status: str = "succeeded") -> str:
    return json.dumps(
        {
            "id": prediction_id,
            "status": status,
            "output": "https://replicate.delivery/x/out.png" if status == "succeeded" else None,
            "created_at": "2026-11-24T10:00:00.000Z",
            "completed_at": "2026-11-24T10:00:08.000Z",
        }
    )


@pytest.fixture
def hook_app(make_app):
    app = make_app(REPLICATE_WEBHOOK_SECRET=SECRET, PUBLIC_BASE_URL="https://admin.example.com")
    app.extensions["pixelglow"].completions().expect("p-known")
    return app


def refused(headers: dict, case: str) -> dict:
    if case == "forged signature":
        return {**headers, "webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()}
    if case == "another secret":
        other = "whsec_" + base64.b64encode(b"not our secret").decode()
        return {**headers, "webhook-signature": sign_webhook(other, headers["webhook-id"], 1, "")}
    if case == "stale timestamp":
        return {**headers, "webhook-timestamp": str(int(time.time()) - 301)}
    if case == "future timestamp":
        return {**headers, "webhook-timestamp": str(int(time.time()) + 301)}
    if case == "timestamp not a number":
        return {**headers, "webhook-timestamp": "soon"}
    return {k: v for k, v in headers.items() if k != case}  # a missing header


@pytest.mark.parametrize(
    "case",
    [
        "forged signature",
        "another secret",
        "stale timestamp",
        "future timestamp",
        "timestamp not a number",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ],
)
def test_a_delivery_that_does_not_verify_gets_401_and_records_nothing(hook_app, case):
    body = prediction_body()
    response = hook_app.test_client().post(HOOK, data=body, headers=refused(signed(body), case))
    assert response.status_code == 401
    completions = hook_app.extensions["pixelglow"].completions()
    assert completions.get("p-known") is None
    # the same delivery, signed properly, is still new: the refused one left no trace of its id
    assert hook_app.test_client().post(HOOK, data=body, headers=signed(body)).get_json()["recorded"] is True


def test_any_of_several_signatures_may_match(hook_app):
    body = prediction_body()
    headers = signed(body)
    headers["webhook-signature"] = "v1," + base64.b64encode(b"y" * 32).decode() + " " + headers["webhook-signature"]
    assert hook_app.test_client().post(HOOK, data=body, headers=headers).status_code == 200


def test_the_handler_needs_no_session_or_csrf_and_is_idempotent(hook_app):
    client = hook_app.test_client()
    body = prediction_body()
    first = client.post(HOOK, data=body, headers=signed(body))
    assert first.status_code == 200 and first.get_json()["recorded"] is True
    assert "Set-Cookie" not in first.headers
    again = client.post(HOOK, data=body, headers=signed(body))  # a retry: the same webhook-id
    assert again.status_code == 200 and again.get_json()["recorded"] is False

    later = prediction_body(status="failed")  # another delivery for the same prediction, out of order
    assert client.post(HOOK, data=later, headers=signed(later, "msg_2")).get_json()["recorded"] is False
    start = prediction_body(status="processing")  # a non-final event
    assert client.post(HOOK, data=start, headers=signed(start, "msg_3")).get_json()["recorded"] is False
    assert hook_app.extensions["pixelglow"].completions().get("p-known")["status"] == "succeeded"


def test_a_delivery_for_an_unknown_prediction_is_acknowledged_and_logged(hook_app, caplog):
    body = prediction_body("p-nobody-made")
    with caplog.at_level(logging.WARNING, logger="app.web.webhooks"):
        response = hook_app.test_client().post(HOOK, data=body, headers=signed(body))
    assert response.status_code == 200
    assert "p-nobody-made" in caplog.text and "acknowledged" in caplog.text


def test_the_handler_answers_within_50_ms(hook_app):
    client = hook_app.test_client()
    times = []
    for n in range(20):
        body = prediction_body(f"p-{n}")
        headers = signed(body, f"msg-{n}")
        started = time.perf_counter()
        assert client.post(HOOK, data=body, headers=headers).status_code == 200
        times.append(time.perf_counter() - started)
    assert sorted(times)[-2] < 0.05, times


def test_the_secret_is_read_from_replicate_once_when_not_configured(make_app, replicate_server):
    app = make_app(replicate=replicate_server, PUBLIC_BASE_URL="https://admin.example.com")
    client = app.test_client()
    for n in range(3):
        body = prediction_body(f"p-{n}")
        assert client.post(HOOK, data=body, headers=signed(body, f"m{n}", secret=replicate_server.webhook_secret))
    assert replicate_server.call_counts()["reads_by_endpoint"]["webhooks.default.secret"] == 1


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("[" * 3000 + "]" * 3000, "nested too deeply"),
        (json.dumps({"id": "a\u0000b\ud800", "status": "succeeded"}), "NUL"),
        (json.dumps({"id": "p-known", "status": "succeeded", "logs": "\ud800"}), "surrogate"),
        ('{"id": "p-known", "status": "succeeded", "metrics": {"predict_time": NaN}}', "NaN"),
        ('{"id": "p-known", "status": "succeeded", "version": 1' + "0" * 500 + "}", "digits"),
        ("{nope", "not valid JSON"),
    ],
)
def test_a_signed_body_beyond_the_json_limits_gets_400_and_records_nothing(hook_app, body, fragment):
    response = hook_app.test_client().post(HOOK, data=body, headers=signed(body))
    assert response.status_code == 400 and fragment in response.get_json()["error"]
    assert hook_app.extensions["pixelglow"].completions().get("p-known") is None


def test_with_redis_unreachable_a_delivery_gets_503_with_retry_after_and_the_job_ends_once_redis_is_back(
    make_app, immediate_huey, replicate_server, live_web
):
    redis_url = urlsplit(REDIS_TEST_URL)
    proxy = TcpProxy(redis_url.hostname, redis_url.port)
    try:
        web_app = make_app(
            queue=redis_url._replace(netloc=f"127.0.0.1:{proxy.port}").geturl(),
            REPLICATE_WEBHOOK_SECRET=replicate_server.webhook_secret,
            PUBLIC_BASE_URL=live_web.url,
        )
        live_web.app = web_app  # the web process reaches Redis through the proxy; the worker directly
        worker = make_app(replicate=replicate_server, PUBLIC_BASE_URL=live_web.url, WEBHOOK_FALLBACK_POLL_SECONDS="120")
        replicate_server.latency = 0.2
        replicate_server.webhook_retry_delays = [0.5] * 40
        preset = create_preset(worker.test_client())

        proxy.cut()
        body = prediction_body()
        headers = signed(body, secret=replicate_server.webhook_secret)
        answer = web_app.test_client().post(HOOK, data=body, headers=headers)
        assert answer.status_code == 503 and int(answer.headers["Retry-After"]) > 0
        assert "Redis" in answer.get_json()["error"]
        outcome = {}

        def run():
            response = post_generate(worker.test_client(), preset["id"])  # the job runs inline (immediate)
            outcome["job"] = wait_for_job(worker, response.get_json()["jobId"])

        thread = threading.Thread(target=run)
        thread.start()
        wait_until(lambda: sum(w["status"] == 503 for w in replicate_server.webhooks) >= 20)
        proxy.restore()
        thread.join(60)
        assert outcome["job"].status == "succeeded" and stored_examples(worker) == 20
        assert prediction_gets(replicate_server) == 0  # every item was told by a retried webhook, none by a read
        assert {w["status"] for w in replicate_server.webhooks} == {503, 200}
    finally:
        proxy.close()


@pytest.mark.parametrize(
    "outage", [sqlite3.OperationalError("database is locked"), sqlite3.DatabaseError("file is not a database")]
)
def test_with_the_embedded_store_locked_or_damaged_a_delivery_gets_503_with_retry_after(make_app, monkeypatch, outage):
    app = make_app(queue="embedded", REPLICATE_WEBHOOK_SECRET=SECRET)
    completions = app.extensions["pixelglow"].completions()

    def locked(*args):
        raise outage

    monkeypatch.setattr(completions, "record", locked)
    body = prediction_body()
    answer = app.test_client().post(HOOK, data=body, headers=signed(body))
    assert answer.status_code == 503 and int(answer.headers["Retry-After"]) > 0
    monkeypatch.undo()
    assert app.test_client().post(HOOK, data=body, headers=signed(body)).get_json()["recorded"] is True


# --------------------------------------------------------------------------- the embedded store
@pytest.mark.fast
def test_the_embedded_store_records_once_and_wakes_a_waiter(tmp_path):
    store = SqliteCompletions(tmp_path / "progress.sqlite3")
    other_process = SqliteCompletions(tmp_path / "progress.sqlite3")
    found = {}

    def waiter():
        found["value"] = store.wait("p1", 5.0, threading.Event())

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert other_process.record("m1", "p1", {"id": "p1", "status": "succeeded"}) == "recorded"
    thread.join(5)
    assert found["value"]["status"] == "succeeded" and time.monotonic() - started < 0.5
    assert other_process.record("m1", "p1", {"id": "p1", "status": "failed"}) == "repeat"
    assert other_process.record("m2", "p1", {"id": "p1", "status": "failed"}) == "repeat"
    assert store.get("p1")["status"] == "succeeded"


# --------------------------------------------------------------------------- configuration
@pytest.mark.fast
@pytest.mark.parametrize(
    "env, message",
    [
        ({"PUBLIC_BASE_URL": "admin.example.com"}, "PUBLIC_BASE_URL"),
        ({"PUBLIC_BASE_URL": "ftp://admin.example.com"}, "PUBLIC_BASE_URL"),
        ({"REPLICATE_WEBHOOK_SECRET": "not-a-secret"}, "REPLICATE_WEBHOOK_SECRET"),
    ],
)
def test_webhook_settings_are_refused_by_name(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(base_env(tmp_path, **env))


@pytest.mark.fast
def test_the_webhook_url_is_the_public_base_url_plus_the_hook_path(tmp_path):
    settings = load_settings(base_env(tmp_path, PUBLIC_BASE_URL="https://admin.example.com/"))
    assert settings.webhook_url == "https://admin.example.com/hooks/replicate"
    assert load_settings(base_env(tmp_path)).webhook_url is None
