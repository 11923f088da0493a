"""The password rule (at least 12 characters, not a common password, not one character repeated, not the email),
applied by every way of setting a password; the change-password page; old weak passwords asked to change."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from app.accounts.audit import AuditEvent
from app.accounts.users import password_problem
from app.core.database import db
from tests import factories
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, auth_headers, create_admin, csrf_token_of, sign_in

NEW_PASSWORD = "plum orchard at dusk"


@pytest.mark.fast
@pytest.mark.parametrize(
    "password, reason",
    [
        (" " * 10, "at least 12 characters"),
        ("a" * 10, "at least 12 characters"),
        ("password12", "at least 12 characters"),
        (" " * 12, "only spaces"),
        ("a" * 12, "at least 5 different characters"),
        ("abababababab", "at least 5 different characters"),
        ("qwerty123456", "most common passwords"),
        ("Password2024!", "most common passwords"),
        ("  iloveyou!!!  ", "most common passwords"),
        (ADMIN_EMAIL, "not be the email"),
        (ADMIN_EMAIL.upper() + "1", "not be the email"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password, reason):
    problem = password_problem(password, ADMIN_EMAIL)
    assert problem is not None and reason in problem, problem


@pytest.mark.fast
def test_good_passwords_pass_the_rule():
    for password in (ADMIN_PASSWORD, NEW_PASSWORD, "x7#Qm!v2Lp9@", "Tr0ub4dor&3xyz"):
        assert password_problem(password, ADMIN_EMAIL) is None, password


def test_the_cli_refuses_a_weak_password_and_says_why(make_app):
    app = make_app()
    runner = app.test_cli_runner()
    for password, reason in (("password12", "at least 12"), ("password1234", "common"), ("zzzzzzzzzzzzzz", "5 diff")):
        created = runner.invoke(args=["users", "create", "bob@example.com"], input=f"{password}\n{password}\n")
        assert created.exit_code != 0 and reason in created.output, created.output
    create_admin(app)
    changed = runner.invoke(args=["users", "set-password", ADMIN_EMAIL], input=f"{ADMIN_EMAIL}\n{ADMIN_EMAIL}\n")
    assert changed.exit_code != 0 and "email" in changed.output, changed.output


def test_the_demo_password_passes_the_rule(make_app):
    from app.cli.demo import DEMO_ADMIN_EMAIL, demo_admin_password

    app = make_app()
    with app.app_context():
        assert password_problem(demo_admin_password(), DEMO_ADMIN_EMAIL) is None


def change(client, csrf: str, current: str, new: str, again: str | None = None):
    form = {"current_password": current, "new_password": new, "new_password_again": new if again is None else again}
    return client.post("/admin/password", data={**form, "csrf_token": csrf})


def test_the_signed_in_admin_changes_the_password_on_the_page(admin_app):
    client, other_device = admin_app.test_client(), admin_app.test_client()
    csrf = sign_in(client)
    sign_in(other_device)
    assert 'href="/admin/password"' in client.get("/admin/sessions").get_data(as_text=True)
    page = client.get("/admin/password")
    assert page.status_code == 200 and 'name="new_password_again"' in page.get_data(as_text=True)

    refused = client.post("/admin/password", data={"current_password": ADMIN_PASSWORD, "new_password": NEW_PASSWORD})
    assert refused.status_code == 400  # no CSRF token
    for current, new, again, reason in (
        ("wrong password!", NEW_PASSWORD, None, "current password is wrong"),
        (ADMIN_PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "differ"),
        (ADMIN_PASSWORD, "password1234", None, "most common passwords"),
        (ADMIN_PASSWORD, "short", None, "at least 12 characters"),
        (ADMIN_PASSWORD, ADMIN_PASSWORD, None, "is the current one"),
    ):
        response = change(client, csrf, current, new, again)
        assert response.status_code == 400 and reason in response.get_data(as_text=True), reason

    done = change(client, csrf, ADMIN_PASSWORD, NEW_PASSWORD)
    assert done.status_code == 303
    assert "other sessions are signed out" in client.get("/admin/presets").get_data(as_text=True)
    assert client.get("/admin/presets").status_code == 200  # this session goes on
    assert other_device.get("/admin/presets").status_code == 302  # the other one ended
    with admin_app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.change-password"))
        assert event is not None and event.actor == ADMIN_EMAIL and event.detail == "1 other sessions ended"
    fresh = admin_app.test_client()
    token = csrf_token_of(fresh.get("/admin/login").get_data(as_text=True))
    old = fresh.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token})
    assert old.status_code == 401
    sign_in(fresh, ADMIN_EMAIL, NEW_PASSWORD)


def test_the_change_page_needs_a_signed_in_admin(admin_app):
    anonymous = admin_app.test_client().get("/admin/password")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/admin/login")
    token = admin_app.test_client().get("/admin/password", headers=auth_headers())
    assert token.status_code == 303 and token.headers["Location"] == "/admin/sessions"


def test_an_admin_with_a_password_from_before_the_rule_signs_in_and_is_asked_to_change_it(admin_app):
    factories.user(
        admin_app, "old@example.com", generate_password_hash("password12")
    )  # as `users create` accepted it before the rule
    client = admin_app.test_client()
    token = csrf_token_of(client.get("/admin/login").get_data(as_text=True))
    signed_in = client.post(
        "/admin/login",
        data={"email": "old@example.com", "password": "password12", "csrf_token": token, "next": "/admin/jobs"},
    )
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/admin/password?next=/admin/jobs"
    page = client.get(signed_in.headers["Location"]).get_data(as_text=True)
    assert "Please choose a new password" in page and "at least 12 characters" in page
    assert client.get("/admin/jobs").status_code == 200  # not locked out
    csrf = csrf_token_of(page)
    done = client.post(
        "/admin/password",
        data={
            "current_password": "password12",
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
            "next": "/admin/jobs",
            "csrf_token": csrf,
        },
    )
    assert done.status_code == 303 and done.headers["Location"] == "/admin/jobs"
