"""Server-side sessions: the cookie is only a random token; sign-out, sign out everywhere, a password
change and `users disable` end sessions for real; idle and absolute expiry; progress polls are no activity."""

from __future__ import annotations

import re
import time

from sqlalchemy import select

from app.accounts.sessions import AdminSession
from app.core.database import db
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, auth_headers, create_admin, csrf_token_of, sign_in

COOKIE = "session"


def cookie_of(client) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "no session cookie"
    return cookie.value


def client_with_cookie(app, value: str):
    client = app.test_client()
    client.set_cookie(COOKIE, value)
    return client


def is_signed_in(client) -> bool:
    return client.get("/admin/presets").status_code == 200


def test_the_cookie_is_only_a_random_token_and_the_data_lives_in_the_database(admin_app):
    client = admin_app.test_client()
    sign_in(client)
    value = cookie_of(client)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value), value  # 32 random bytes, no payload, no signature
    with admin_app.app_context():
        rows = db.session.scalars(select(AdminSession).where(AdminSession.user_id.is_not(None))).all()
        assert len(rows) == 1 and rows[0].id != value  # the table holds a hash of the token, never the token


def test_a_cookie_copied_before_sign_out_is_worthless_afterwards(admin_app):
    client = admin_app.test_client()
    csrf = sign_in(client)
    copied = cookie_of(client)
    thief = client_with_cookie(admin_app, copied)
    assert is_signed_in(thief) and thief.get("/api/admin/presets").status_code == 200
    assert client.post("/admin/logout", data={"csrf_token": csrf}).status_code == 303
    thief = client_with_cookie(admin_app, copied)
    page = thief.get("/admin/presets")
    assert page.status_code == 302 and page.headers["Location"].startswith("/admin/login")
    assert thief.get("/api/admin/presets").status_code == 401
    edit = thief.post("/admin/presets/new", data={"name": "x", "prompt": "y", "csrf_token": csrf})
    assert edit.status_code in (302, 303) and edit.headers["Location"].startswith("/admin/login")


def test_sign_out_everywhere_ends_every_session_of_that_admin(admin_app):
    laptop, phone = admin_app.test_client(), admin_app.test_client()
    csrf = sign_in(laptop)
    sign_in(phone)
    other = create_admin(admin_app, "other@example.com", "another password 1")
    bystander = admin_app.test_client()
    sign_in(bystander, "other@example.com", "another password 1")
    page = laptop.get("/admin/sessions").get_data(as_text=True)
    assert page.count("<tr>") == 3 and "this session" in page  # header + two sessions of this admin
    response = laptop.post("/admin/sessions/revoke-all", data={"csrf_token": csrf})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/login"
    assert not is_signed_in(laptop) and not is_signed_in(phone)
    assert is_signed_in(bystander), other  # another admin's sessions are untouched


def test_users_disable_ends_the_sessions_and_refuses_sign_in(admin_app):
    client = admin_app.test_client()
    sign_in(client)
    result = admin_app.test_cli_runner().invoke(args=["users", "disable", ADMIN_EMAIL])
    assert result.exit_code == 0 and "1 sessions ended" in result.output, result.output
    assert not is_signed_in(client)
    fresh = admin_app.test_client()
    token = csrf_token_of(fresh.get("/admin/login").get_data(as_text=True))
    refused = fresh.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token})
    assert refused.status_code == 401
    listed = admin_app.test_cli_runner().invoke(args=["users", "list"])
    assert "DISABLED" in listed.output


def test_a_password_change_ends_the_sessions_in_the_table(admin_app):
    client = admin_app.test_client()
    sign_in(client)
    result = admin_app.test_cli_runner().invoke(
        args=["users", "set-password", ADMIN_EMAIL], input="another password 42\n" * 2
    )
    assert result.exit_code == 0 and "1 sessions ended" in result.output, result.output
    with admin_app.app_context():
        assert db.session.scalars(select(AdminSession).where(AdminSession.user_id.is_not(None))).all() == []


def test_the_idle_timeout_slides_with_activity_and_ends_an_idle_session(make_app):
    app = make_app(SESSION_IDLE_SECONDS="1.5")
    create_admin(app)
    client = app.test_client()
    sign_in(client)
    for _ in range(4):  # 2.4 s of activity: more than the idle timeout, never idle for as long
        time.sleep(0.6)
        assert is_signed_in(client)
    time.sleep(1.8)
    assert not is_signed_in(client)
    assert client.get("/api/admin/presets").status_code == 401


def test_the_absolute_lifetime_ends_even_an_active_session(make_app):
    """Timed from both ends of the sign-in (which may take a while on a busy machine): the session began after
    `started` and before `signed`, so it is younger than its lifetime until started + 4 s, older after signed + 4 s."""
    app = make_app(SESSION_LIFETIME_SECONDS="4")
    create_admin(app)
    client = app.test_client()
    started = time.monotonic()
    sign_in(client)
    signed = time.monotonic()
    while time.monotonic() < started + 3.5:
        assert is_signed_in(client)
        time.sleep(0.3)
    time.sleep(max(0.0, signed + 4.5 - time.monotonic()))
    assert not is_signed_in(client)


def test_a_page_that_only_polls_progress_still_expires(make_app):
    app = make_app(SESSION_IDLE_SECONDS="1.5")
    create_admin(app)
    client = app.test_client()
    sign_in(client)
    poll = {"HX-Request": "true", "HX-Current-URL": "http://localhost/admin/presets/p1"}
    statuses = []
    for _ in range(8):  # a poll every 0.3 s for 2.4 s, as an unattended preset page would
        statuses.append(client.get("/admin/jobs/abc/progress", headers=poll).status_code)
        time.sleep(0.3)
    assert statuses[0] == 286 and statuses[-1] == 401, statuses
    last = client.get("/admin/jobs/abc/progress", headers=poll)
    assert last.status_code == 401 and last.headers["HX-Redirect"] == "/admin/login?next=/admin/presets/p1"


def test_a_page_that_only_polls_a_comparison_grid_still_expires(make_app):
    app = make_app(SESSION_IDLE_SECONDS="1.5")
    create_admin(app)
    client = app.test_client()
    sign_in(client)
    poll = {"HX-Request": "true", "HX-Current-URL": "http://localhost/admin/comparisons/c1"}
    statuses = []
    for _ in range(8):  # the grid's poll of an unattended page (an unknown comparison: 404 while signed in)
        statuses.append(client.get("/admin/comparisons/c1/live", headers=poll).status_code)
        time.sleep(0.3)
    assert statuses[0] == 404 and statuses[-1] == 401, statuses


def test_a_bearer_call_gets_no_cookie(admin_app):
    client = admin_app.test_client()
    response = client.get("/api/admin/presets", headers=auth_headers())
    assert response.status_code == 200 and "Set-Cookie" not in response.headers


def session_rows(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(AdminSession)).all())


def test_anonymous_visits_to_the_login_page_write_no_session_row(admin_app):
    for _ in range(300):  # each a new visitor, as a crawler or a flood would be
        assert admin_app.test_client().get("/admin/login").status_code == 200
    assert session_rows(admin_app) == 0
    visitor = admin_app.test_client()
    token = csrf_token_of(visitor.get("/admin/login").get_data(as_text=True))
    wrong = visitor.post("/admin/login", data={"email": ADMIN_EMAIL, "password": "wrong password", "csrf_token": token})
    assert wrong.status_code == 401 and session_rows(admin_app) == 0  # a failed sign-in writes none either
    right = visitor.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token})
    assert right.status_code == 303 and session_rows(admin_app) == 1  # the sign-in is the first row
    assert is_signed_in(visitor)


def test_the_sign_in_form_stays_csrf_protected_without_a_row(admin_app):
    visitor, other = admin_app.test_client(), admin_app.test_client()
    token = csrf_token_of(visitor.get("/admin/login").get_data(as_text=True))
    others = csrf_token_of(other.get("/admin/login").get_data(as_text=True))
    form = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    assert admin_app.test_client().post("/admin/login", data={**form, "csrf_token": token}).status_code == 400
    assert visitor.post("/admin/login", data={**form, "csrf_token": others}).status_code == 400
    assert visitor.post("/admin/login", data={**form, "csrf_token": token}).status_code == 303
    forged = admin_app.test_client()
    forged.set_cookie("anon_session", '{"csrf_token": "chosen"}.forged')
    assert forged.get("/admin/login").status_code == 200  # a cookie we did not sign is ignored, never a 500
    assert forged.post("/admin/login", data={**form, "csrf_token": token}).status_code == 400


def test_the_sign_out_message_is_shown_without_a_row(admin_app):
    client = admin_app.test_client()
    csrf = sign_in(client)
    out = client.post("/admin/logout", data={"csrf_token": csrf})
    assert out.status_code == 303 and session_rows(admin_app) == 0
    assert "You are signed out." in client.get("/admin/login").get_data(as_text=True)
    assert "You are signed out." not in client.get("/admin/login").get_data(as_text=True)
