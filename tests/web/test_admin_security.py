"""Who may reach what: every admin page, admin API route and media URL needs a signed-in admin or the
API token; CSRF on every session-authenticated unsafe request; security headers; escaped names."""

from __future__ import annotations

import re
import time

import pytest

from tests.conftest import (
    ADMIN_EMAIL,
    auth_headers,
    create_admin,
    create_preset,
    csrf_token_of,
    post_generate,
    sign_in,
)
from tests.url_rules import RULES

OPEN_ENDPOINTS = {
    "static",
    "admin_auth.login",
    "admin_auth.root",
    "health.healthz",
    "health.readyz",
    "favicon",
    "openapi.openapi_json",  # the API's contract: it holds no secret
}
SIGNED_ENDPOINTS = {"webhooks.replicate_webhook"}  # called by Replicate: its signature is the only credential
# the consumer app's gallery feed: its own Bearer token (401 without), its images' signed links (403 without)
# the Prometheus scraper's page: its own METRICS_TOKEN (404 while unset, 401 without the token)
SCRAPER_ENDPOINTS = {"metrics.metrics"}
FEED_ENDPOINTS = {"feed_gallery.preset_gallery": 401, "feed_media.feed_media": 403}
PROTECTED_PREFIXES = ("/admin", "/api/admin", "/media")


@pytest.mark.parametrize("endpoint, method, url", RULES)
def test_every_route_refuses_anonymous_requests_except_login_and_static(make_app, endpoint, method, url):
    app = make_app()
    client = app.test_client()
    response = client.open(url, method=method)
    if endpoint in OPEN_ENDPOINTS:
        # open: answered (a POST without its CSRF token is refused as such, not as unauthenticated)
        expected = (200, 302) if method == "GET" else (400,)
        assert response.status_code in expected, (url, response.status_code)
        assert not response.headers.get("Location", "").startswith("/admin/login")
        return
    if endpoint in FEED_ENDPOINTS:  # no token or no signature: refused, no session, no sign-in page
        assert response.status_code == FEED_ENDPOINTS[endpoint] and "Set-Cookie" not in response.headers
        return
    if endpoint in SCRAPER_ENDPOINTS:
        assert response.status_code in (401, 404), response.status_code
        assert not response.headers.get("Location", "").startswith("/admin/login")
        return
    if endpoint in SIGNED_ENDPOINTS:  # unsigned: 401, no session, no sign-in page
        assert response.status_code == 401 and "Set-Cookie" not in response.headers, response.status_code
        return
    assert url.startswith(PROTECTED_PREFIXES), (
        f"{endpoint} ({url}) is neither under {PROTECTED_PREFIXES} nor declared open: decide who may call it"
    )
    if response.status_code in (302, 303):
        assert response.headers["Location"].startswith("/admin/login"), response.headers["Location"]
    else:
        assert response.status_code == 401, (url, response.status_code, response.get_data(as_text=True)[:200])
    # htmx callers are told where to sign in instead of being redirected inside a fragment
    response = client.open(url, method=method, headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/admin/login")


@pytest.mark.fast
def test_the_url_map_walk_covers_admin_api_and_media_routes():
    endpoints = {p.values[0] for p in RULES}
    assert {
        "api_presets.generate_examples",
        "media.media",
        "admin_presets.preset",
        "admin_jobs.progress",
        "admin_gallery.delete_example",
        "admin_jobs.jobs",
    } <= endpoints


def test_login_page_and_static_assets_stay_open(make_app):
    client = make_app().test_client()
    assert client.get("/admin/login").status_code == 200
    assert client.get("/static/htmx.min.js").status_code == 200
    assert client.get("/static/admin.css").status_code == 200


def test_a_wrong_password_is_refused_and_a_right_one_signs_in_and_out(admin_app):
    client = admin_app.test_client()
    token = csrf_token_of(client.get("/admin/login").get_data(as_text=True))
    wrong = client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "do not match" in wrong.get_data(as_text=True)
    assert client.get("/admin/presets").status_code == 302
    csrf = sign_in(client)
    assert client.get("/admin/presets").status_code == 200
    out = client.post("/admin/logout", data={"csrf_token": csrf})
    assert out.status_code == 303
    assert client.get("/admin/presets").status_code == 302


def test_login_only_follows_local_next_urls(admin_app):
    from tests.conftest import ADMIN_PASSWORD

    for target, expected in (
        ("/admin/jobs", "/admin/jobs"),
        ("https://evil.example/", "/admin/presets"),
        ("//evil.example/admin", "/admin/presets"),
    ):
        client = admin_app.test_client()
        token = csrf_token_of(client.get("/admin/login").get_data(as_text=True))
        response = client.post(
            "/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token, "next": target}
        )
        assert response.status_code == 303 and response.headers["Location"] == expected


def test_an_anonymous_page_visit_comes_back_after_sign_in(admin_app):
    response = admin_app.test_client().get("/admin/jobs")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/login?next=/admin/jobs"


def test_an_expired_session_gets_401_with_hx_redirect_on_polls(make_app):
    admin_app = make_app(SESSION_LIFETIME_SECONDS="1")  # sessions live server-side: the lifetime is a setting
    create_admin(admin_app)
    client = admin_app.test_client()
    sign_in(client)
    assert client.get("/admin/jobs/abc/progress", headers={"HX-Request": "true"}).status_code == 286
    time.sleep(2.1)
    response = client.get(
        "/admin/jobs/abc/progress?shown=0",
        headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/admin/presets/p1"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/admin/login?next=/admin/presets/p1"


def test_a_password_change_signs_out_other_sessions(admin_app):
    client = admin_app.test_client()
    sign_in(client)
    runner = admin_app.test_cli_runner()
    result = runner.invoke(args=["users", "set-password", ADMIN_EMAIL], input="another password 42\n" * 2)
    assert result.exit_code == 0, result.output
    assert client.get("/admin/presets").status_code == 302


# -- CSRF -------------------------------------------------------------------------------------------
def test_form_posts_need_the_csrf_token(admin_client):
    form = {"name": "Noir", "prompt": "Film noir portrait", "provider": "NANO_BANANA"}
    refused = admin_client.post("/admin/presets/new", data=form)
    assert refused.status_code == 400 and "security token" in refused.get_data(as_text=True)
    refused = admin_client.post("/admin/presets/new", data={**form, "csrf_token": "forged"})
    assert refused.status_code == 400
    accepted = admin_client.post("/admin/presets/new", data={**form, "csrf_token": admin_client.csrf})
    assert accepted.status_code == 303


def test_htmx_posts_need_the_csrf_header(admin_client, immediate_huey):
    preset = create_preset(admin_client)
    url = f"/admin/presets/{preset['id']}/generate"
    refused = admin_client.post(url, data={"examples_per_model": "1"}, headers={"HX-Request": "true"})
    assert refused.status_code == 400
    refused = admin_client.post(
        url, data={"examples_per_model": "1"}, headers={"HX-Request": "true", "X-CSRFToken": "forged"}
    )
    assert refused.status_code == 400
    accepted = admin_client.post(
        url, data={"examples_per_model": "1"}, headers={"HX-Request": "true", "X-CSRFToken": admin_client.csrf}
    )
    assert accepted.status_code == 200 and 'id="progress"' in accepted.get_data(as_text=True)


def test_a_bearer_call_needs_no_csrf_token(admin_app, immediate_huey):
    client = admin_app.test_client()
    preset = create_preset(client)
    response = post_generate(client, preset["id"])
    assert response.status_code == 202
    # the token works on admin pages too, without a session
    assert client.get("/admin/presets", headers=auth_headers()).status_code == 200
    assert (
        client.post(
            "/admin/presets/new", data={"name": "X", "prompt": "Y", "provider": "NANO_BANANA"}, headers=auth_headers()
        ).status_code
        == 303
    )


def test_login_form_needs_the_csrf_token(admin_app):
    from tests.conftest import ADMIN_PASSWORD

    response = admin_app.test_client().post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 400


# -- headers and escaping ---------------------------------------------------------------------------
def test_security_headers_and_no_inline_script_or_style(admin_client, immediate_huey):
    preset = create_preset(admin_client)
    post_generate(admin_client, preset["id"])
    job = admin_client.get("/admin/jobs").get_data(as_text=True)
    job_id = re.search(r"/admin/jobs/([0-9a-f]{32})", job).group(1)
    anonymous = admin_client.application.test_client()
    for path in (
        "/admin/login",
        "/admin/presets",
        f"/admin/presets/{preset['id']}",
        "/admin/presets/new",
        f"/admin/presets/{preset['id']}/edit",
        "/admin/jobs",
        f"/admin/jobs/{job_id}",
        "/admin/nope",
    ):
        response = (anonymous if path == "/admin/login" else admin_client).get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        html = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), f"inline script on {path}"
        assert not re.search(r"<style|\sstyle=", html), f"inline style on {path}"
        assert '"includeIndicatorStyles": false' in html
        assert "X-CSRFToken" in html  # <body hx-headers>


HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_PROMPT = '<img src=x onerror="alert(2)"> portrait'


def test_names_and_prompts_with_html_render_as_text(admin_client, immediate_huey):
    preset = create_preset(admin_client, name=HOSTILE_NAME, prompt=HOSTILE_PROMPT)
    post_generate(admin_client, preset["id"])
    job_id = re.search(r"/admin/jobs/([0-9a-f]{32})", admin_client.get("/admin/jobs").get_data(as_text=True)).group(1)
    for path in (
        "/admin/presets",
        "/admin/presets?q=%3Cscript",
        f"/admin/presets/{preset['id']}",
        f"/admin/presets/{preset['id']}/edit",
        "/admin/jobs",
        f"/admin/jobs/{job_id}",
    ):
        html = admin_client.get(path).get_data(as_text=True)
        assert HOSTILE_NAME not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
