"""Property-based, over every rule of the URL map: hostile paths, query strings, bodies and headers, sent as
a signed-in browser (with its CSRF token, sometimes), a Bearer script or nobody, never get a 5xx and never
log an error. In-process (Flask's test client) against PostgreSQL, derandomized, 300 examples per route.
Two more, past the doors the first cannot open: webhook bodies of hostile shapes, validly signed, and bodies
sent to the API's routes that take none (each refused with 400 before it acts)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import time
import uuid
from urllib.parse import quote, urlencode

import pytest
import redis as redis_lib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from app.core.config import load_settings
from app.core.database import db
from app.tasks import enqueue_job
from app.web.api.common import TAKES_A_BODY
from tests.conftest import (
    REDIS_TEST_URL,
    auth_headers,
    base_env,
    create_admin,
    create_preset,
    empty_tables,
    post_generate,
    sign_in,
)
from tests.helpers import HOOK, SECRET
from tests.url_rules import RULES

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))  # at least 300 in CI; fewer while developing
# Signing out ends the fuzzing client's session: those two are fuzzed without a valid CSRF token.
ENDS_THE_SESSION = {"admin_auth.logout", "admin_auth.revoke_all"}

NASTY = [
    "\x00",
    "a\x00b",
    "\ud800",
    "s\udfff",
    "a\r\nSet-Cookie: x=1",
    "\r\n",
    "//evil.example/admin",
    "\\\\evil.example",
    "/\\evil.example",
    "https://evil.example/admin",
    "javascript:alert(1)",
    "/admin/jobs",
    "/admin/presets?x=\r\n",
    "9" * 5000,
    "-" + "9" * 400,
    "1e999",
    "NaN",
    "-Infinity",
    "{" * 300,
    "[" * 5000,
    '{"a":' * 2000,
    "x" * 20_000,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
    "..",
    "../../etc/passwd",
    "💥",
]
nasty_text = st.one_of(st.sampled_from(NASTY), st.text(max_size=12))  # short: drawing text is the costly part
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
)
json_values = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(nasty_text, children, max_size=4),
    max_leaves=6,
)
field_names = st.sampled_from(
    ["name", "prompt", "provider", "settings", "examplesPerModel", "examples_per_model", "email", "password",
     "next", "release", "model", "q", "after", "exclude", "shown", "view", "base", "x"]
)  # fmt: skip


def json_text(value) -> str:
    return json.dumps(value, allow_nan=True)


bodies = st.one_of(
    st.none(),
    st.tuples(st.just("json"), json_values.map(json_text)),
    st.tuples(st.just("json"), st.dictionaries(field_names, json_values, max_size=5).map(json_text)),
    st.tuples(st.just("json"), st.sampled_from(['{"a":' * 2000, "[" * 5000, '{"name": "s\\ud800"}', "NaN", "1e999"])),
    st.tuples(st.just("form"), st.dictionaries(field_names, nasty_text, max_size=6)),
    st.tuples(st.just("raw"), st.binary(max_size=200)),
)
queries = st.dictionaries(st.one_of(field_names, nasty_text), nasty_text, max_size=4)
header_text = st.one_of(
    st.sampled_from(["//evil.example", "http://localhost/admin/presets/x", "http://localhost/\\evil", "1.2.3.4, ::1"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=16),
)
content_types = st.sampled_from(
    ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
callers = st.sampled_from(["session", "session+csrf", "bearer", "bad-bearer", "anonymous"])


def encode(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def build_url(rule: str, values: dict, query: dict) -> str:
    url = rule
    for name, value in values.items():
        url = re.sub(rf"<(?:[a-z]+:)?{name}>", value, url)
    if query:
        pairs = [(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass")) for k, v in query.items()]
        url += "?" + urlencode(pairs)
    return url


def body_arguments(body, content_type, headers: dict, csrf: str | None) -> dict:
    """The test client's `data` for a drawn body (sets Content-Type in `headers`)."""
    if body is None:
        return {}
    kind, payload = body
    if kind == "form":
        form = {**payload, **({"csrf_token": csrf} if csrf else {})}
        pairs = [(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass")) for k, v in form.items()]
        headers["Content-Type"] = content_type or "application/x-www-form-urlencoded"
        return {"data": urlencode(pairs)}
    content = content_type or ("application/json" if kind == "json" else None)
    if content:
        headers["Content-Type"] = content
    return {"data": payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload}


@pytest.fixture(scope="module")
def fuzz_app(pg_database, tmp_path_factory):
    """One app, admin and signed-in browser for every route (building them per route cost 0.4 s each)."""
    instance = tmp_path_factory.mktemp("fuzz-instance")
    # the gallery feed public, so its paging is fuzzed rather than refused for want of its token
    env = base_env(
        instance, DATABASE_URL=pg_database, REDIS_URL=REDIS_TEST_URL, GALLERY_FEED_PUBLIC="1",
        REPLICATE_WEBHOOK_SECRET=SECRET,
    )  # fmt: skip
    app = create_app(load_settings(env), {"TESTING": True}, enqueue=enqueue_job)
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    with app.app_context():
        with db.engine.begin() as conn:
            empty_tables(conn)
    redis_lib.Redis.from_url(REDIS_TEST_URL).flushdb()
    create_admin(app)
    browser = app.test_client()
    csrf = sign_in(browser)
    yield app, browser, csrf
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def fresh_ids(app, browser) -> dict:
    """A preset, a job and a comparison (queued, never run) to aim at (an earlier route's fuzzing may have deleted
    them)."""
    preset = create_preset(browser, name=f"Fuzzed {uuid.uuid4().hex[:8]}")
    job = post_generate(browser, preset["id"]).get_json()
    body = {"variants": [{"current": True}, {"provider": "FLUX_PRO"}], "modelIds": ["male_01"]}
    comparison = browser.post(f"/api/admin/presets/{preset['id']}/comparisons", json=body, headers=auth_headers())
    assert comparison.status_code == 202, comparison.get_json()
    return {"preset_id": preset["id"], "job_id": job["jobId"], "comparison_id": comparison.get_json()["comparisonId"]}


@pytest.mark.parametrize("endpoint, method, sample_url", RULES)
def test_no_route_answers_5xx_to_hostile_requests(fuzz_app, caplog, endpoint, method, sample_url):
    app, browser, csrf = fuzz_app
    ids = fresh_ids(app, browser)
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and method in r.methods)
    real = {**ids, "example_id": "0" * 32, "key": "examples/x/y.png"}
    others = {"filename": "admin.css"}
    anonymous = app.test_client()
    caplog.set_level(logging.ERROR)
    seen = [0]  # log records already checked

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        path_values=st.fixed_dictionaries(
            {
                name: st.one_of(
                    st.just(real.get(name, others.get(name, "abc"))),
                    nasty_text.filter(lambda s: s not in ("", ".", "..")).map(encode),
                )
                for name in rule.arguments
            }
        ),
        query=queries,
        body=bodies,
        content_type=content_types,
        caller=callers,
        htmx=st.booleans(),
        hx_url=header_text,
        forwarded=header_text,
        accept=st.sampled_from(["application/json", "text/html", "*/*", None]),
    )
    def check(path_values, query, body, content_type, caller, htmx, hx_url, forwarded, accept):
        url = build_url(rule.rule, path_values, query)
        headers = {"X-Forwarded-For": forwarded}
        if htmx:
            headers.update({"HX-Request": "true", "HX-Current-URL": hx_url})
        if accept:
            headers["Accept"] = accept
        if caller == "bearer":
            headers.update(auth_headers())
        elif caller == "bad-bearer":
            headers["Authorization"] = "Bearer " + hx_url
        with_csrf = caller == "session+csrf" and endpoint not in ENDS_THE_SESSION
        if with_csrf:
            headers["X-CSRFToken"] = csrf
        kwargs = body_arguments(body, content_type, headers, csrf if with_csrf else None)
        client = anonymous if caller in ("anonymous", "bearer", "bad-bearer") else browser
        response = client.open(url, method=method, headers=headers, **kwargs)
        assert response.status_code < 500, (method, url[:300], body and str(body[1])[:300], response.status_code)
        errors = [r.getMessage() for r in caplog.records[seen[0] :] if r.levelno >= logging.ERROR]
        seen[0] = len(caplog.records)
        assert not errors, errors

    check()


# --------------------------------------------------------------------------- signed webhooks
def sign_bytes(webhook_id: str, timestamp: int, body: bytes) -> str:
    """Replicate's signature over the raw bytes (tests.replicate_server's signs text, which these may not be)."""
    key = base64.b64decode(SECRET.split("_", 1)[1])
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def prediction_with(value) -> str:
    """A completed prediction carrying `value`: past the "is it a prediction" check, to the limits."""
    return json_text({"id": f"p-{uuid.uuid4().hex}", "status": "succeeded", "output": value})


# (body, the status it must get): each a shape the JSON limits refuse, signed as Replicate would
HOSTILE_WEBHOOKS = {
    "deep array": (b"[" * 3000 + b"]" * 3000, 400),
    "deep object": (b'{"a":' * 2000 + b"1" + b"}" * 2000, 400),
    "deep inside a prediction": (prediction_with(json.loads("[" * 40 + "]" * 40)).encode(), 400),
    "huge": (b'{"id": "p", "status": "succeeded", "logs": "' + b"x" * (1024 * 1024) + b'"}', 413),
    "just under the size limit": (prediction_with("x" * (1024 * 1024 - 200)).encode(), 200),
    "invalid UTF-8": (b'{"id": "p-\xff\xfe", "status": "succeeded"}', 401),
    "NaN": (prediction_with(float("nan")).encode(), 400),
    "Infinity": (b'{"id": "p", "status": "succeeded", "metrics": {"predict_time": 1e999}}', 400),
    "a number of 5000 digits": (b'{"id": "p", "status": "succeeded", "version": ' + b"9" * 5000 + b"}", 400),
    "NUL in the id": (json_text({"id": "a\u0000b", "status": "succeeded"}).encode(), 400),
    "NUL in the output": (prediction_with("a\u0000b").encode(), 400),
    "surrogate in the id": (json_text({"id": "a\ud800", "status": "succeeded"}).encode(), 400),
    "surrogate in a key": (prediction_with({"\udfff": 1}).encode(), 400),
    "NUL and surrogate (the issue's)": (json_text({"id": "a\u0000b\ud800", "status": "succeeded"}).encode(), 400),
    "raw NUL byte": (b'{"id": "p\x00", "status": "succeeded"}', 400),
    "not a prediction": (b"[1, 2]", 400),
}


def post_signed(client, body: bytes):
    webhook_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_bytes(webhook_id, timestamp, body),
        "Content-Type": "application/json",
    }
    return client.post(HOOK, data=body, headers=headers)


@pytest.mark.parametrize("shape", HOSTILE_WEBHOOKS)
def test_a_signed_webhook_of_a_hostile_shape_gets_its_4xx_not_a_5xx(fuzz_app, caplog, shape):
    app, _, _ = fuzz_app
    body, status = HOSTILE_WEBHOOKS[shape]
    caplog.set_level(logging.ERROR)
    response = post_signed(app.test_client(), body)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


webhook_bodies = st.one_of(
    st.sampled_from([body for body, _ in HOSTILE_WEBHOOKS.values()]),
    json_values.map(prediction_with).map(lambda text: text.encode("utf-8", "surrogatepass")),
    json_values.map(json_text).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.dictionaries(nasty_text, json_values, max_size=4).map(
        lambda extra: json_text({"id": "p-fuzzed", "status": "succeeded", **extra}).encode("utf-8", "surrogatepass")
    ),
    st.binary(max_size=200),
)


def test_signed_webhooks_of_any_shape_never_get_a_5xx(fuzz_app, caplog):
    app, _, _ = fuzz_app
    client = app.test_client()
    caplog.set_level(logging.ERROR)

    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(body=webhook_bodies)
    def check(body):
        response = post_signed(client, body)
        assert response.status_code < 500, (body[:300], response.status_code)

    check()
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# --------------------------------------------------------------------------- routes that take no body
NO_BODY_RULES = [
    pytest.param(endpoint, method, url, id=f"{method} {url}")
    for endpoint, method, url in (p.values for p in RULES)
    if endpoint.startswith("api_") and endpoint not in TAKES_A_BODY
]


def is_a_body(body) -> bool:
    """Anything but nothing, blanks or {} (what a route that takes no body accepts); a form always."""
    kind, payload = body
    raw = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
    if kind == "form":
        return True
    try:
        return bool(raw.strip()) and json.loads(raw) != {}
    except (ValueError, RecursionError):
        return True


no_body_bodies = st.one_of(
    st.tuples(st.just("json"), st.sampled_from(['{"a":NaN}', "[" * 5000 + "]" * 5000, '{"a":' * 2000, "1e999"])),
    st.tuples(st.just("json"), json_values.map(json_text)),
    st.tuples(st.just("form"), st.dictionaries(field_names, nasty_text, min_size=1, max_size=4)),
    st.tuples(st.just("raw"), st.binary(min_size=1, max_size=200)),
).filter(is_a_body)


@pytest.mark.parametrize("endpoint, method, sample_url", NO_BODY_RULES)
def test_a_route_that_takes_no_body_refuses_every_body_with_400(fuzz_app, caplog, endpoint, method, sample_url):
    app, _, _ = fuzz_app
    ids = fresh_ids(app, app.test_client())
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and method in r.methods)
    url = build_url(rule.rule, {name: ids.get(name, "0" * 32) for name in rule.arguments}, {})
    client = app.test_client()
    caplog.set_level(logging.ERROR)

    @settings(
        max_examples=EXAMPLES // 3,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=no_body_bodies, content_type=content_types)
    def check(body, content_type):
        headers = auth_headers()
        kwargs = body_arguments(body, content_type, headers, None)
        response = client.open(url, method=method, headers=headers, **kwargs)
        assert response.status_code == 400, (method, url, str(body[1])[:300], response.status_code)

    check()
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert client.get(f"/api/admin/presets/{ids['preset_id']}", headers=auth_headers()).status_code == 200
