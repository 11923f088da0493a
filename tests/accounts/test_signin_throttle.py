"""Sign-in throttling: the 6th failure within a minute for one account from one address gets 429 with the
wait, and so does the right password during the wait; unknown accounts are throttled alike and answered
with the same password work; forwarded addresses count only from TRUSTED_PROXIES; nothing secret is logged."""

from __future__ import annotations

import logging
import re
import time

from app.accounts import users
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, create_admin, csrf_token_of

UNKNOWN = "nobody@example.com"


def login_form(client) -> str:
    return csrf_token_of(client.get("/admin/login").get_data(as_text=True))


def attempt(client, token, email, password, **environ):
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base=environ,
    )


def wait_of(response) -> int:
    match = re.search(r"try again in (\d+) s", response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:300]
    return int(match.group(1))


def test_the_sixth_wrong_password_gets_429_and_so_does_the_right_one(admin_app):
    client = admin_app.test_client()
    token = login_form(client)
    for _ in range(5):
        assert attempt(client, token, ADMIN_EMAIL, "wrong password").status_code == 401
    sixth = attempt(client, token, ADMIN_EMAIL, "wrong password")
    assert sixth.status_code == 429
    assert 0 < wait_of(sixth) <= 60 and 0 < int(sixth.headers["Retry-After"]) <= 60
    right = attempt(client, token, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert right.status_code == 429 and "Too many sign-in attempts" in right.get_data(as_text=True)
    assert client.get("/admin/presets").status_code == 302  # not signed in
    # another address is not locked out of the same account
    other = attempt(client, token, ADMIN_EMAIL, ADMIN_PASSWORD, REMOTE_ADDR="10.9.8.7")
    assert other.status_code == 303


def test_an_unknown_account_is_throttled_the_same_way(admin_app):
    client = admin_app.test_client()
    token = login_form(client)
    statuses = [attempt(client, token, UNKNOWN, "whatever password").status_code for _ in range(7)]
    assert statuses == [401] * 5 + [429] * 2


def test_the_wait_grows_with_more_failures(make_app):
    app = make_app(LOGIN_LIMITS_ACCOUNT="2 per 2 seconds; 3 per hour")
    create_admin(app)
    client = app.test_client()
    token = login_form(client)
    assert [attempt(client, token, ADMIN_EMAIL, "wrong").status_code for _ in range(3)] == [401, 401, 429]
    time.sleep(2.1)
    assert attempt(client, token, ADMIN_EMAIL, "wrong").status_code == 401  # the short window has passed
    locked = attempt(client, token, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert locked.status_code == 429 and wait_of(locked) > 3000  # now the hourly limit holds


def test_the_per_address_limit_spans_accounts(make_app):
    app = make_app(LOGIN_LIMITS_ADDRESS="4 per minute")
    create_admin(app)
    client = app.test_client()
    token = login_form(client)
    statuses = [attempt(client, token, f"user{i}@example.com", "wrong").status_code for i in range(5)]
    assert statuses == [401] * 4 + [429]


def three_forwarded_clients(client, token: str) -> list[int]:
    """Three wrong sign-ins, each claiming another client address in X-Forwarded-For."""
    return [
        client.post(
            "/admin/login",
            data={"email": f"u{i}@example.com", "password": "x", "csrf_token": token},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        ).status_code
        for i in range(3)
    ]


def test_forwarded_addresses_count_only_from_trusted_proxies(make_app):
    direct = make_app(LOGIN_LIMITS_ADDRESS="2 per minute")
    client = direct.test_client()
    token = login_form(client)
    # X-Forwarded-For from an untrusted peer is ignored: the three count as one address
    assert three_forwarded_clients(client, token) == [401, 401, 429]

    proxied = make_app(LOGIN_LIMITS_ADDRESS="2 per minute", TRUSTED_PROXIES="127.0.0.1")
    client = proxied.test_client()
    token = login_form(client)
    # three clients behind the trusted proxy
    assert three_forwarded_clients(client, token) == [401, 401, 401]


def test_existing_and_unknown_accounts_do_the_same_password_work(make_app, monkeypatch):
    """The same scrypt checks, of the same cost, for a known and an unknown email, failing and locked out (so
    their answer times match: `make bench` benchmark 12 measures them)."""
    admin_app = make_app()
    create_admin(admin_app, product_cost=True)  # hashed as `users create` hashes it
    checks: list[str] = []
    real_check = users.check_password_hash

    def counted(pwhash: str, password: str) -> bool:
        checks.append(pwhash.split("$", 1)[0])  # the method and its cost, e.g. "scrypt:32768:8:1"
        return real_check(pwhash, password)

    monkeypatch.setattr(users, "check_password_hash", counted)
    client = admin_app.test_client()
    token = login_form(client)
    work: dict[tuple[str, int], list[str]] = {}
    for email, address in ((ADMIN_EMAIL, "10.1.0.1"), (UNKNOWN, "10.1.0.2")):
        for _ in range(8):  # five failures, then locked out
            checks.clear()
            status = attempt(client, token, email, "wrong password", REMOTE_ADDR=address).status_code
            work.setdefault((email, status), []).append(" + ".join(checks) or "none")
    assert sorted(status for _, status in work) == [401, 401, 429, 429]
    for status in (401, 429):
        assert work[(ADMIN_EMAIL, status)] == work[(UNKNOWN, status)], status
    assert set(work[(ADMIN_EMAIL, 401)]) == {"scrypt:32768:8:1"}, work


def test_sign_ins_failures_and_lockouts_are_logged_without_secrets(admin_app, caplog):
    caplog.set_level(logging.INFO)
    client = admin_app.test_client()
    token = login_form(client)
    for _ in range(6):
        attempt(client, token, ADMIN_EMAIL, "hunter2-wrong-secret")
    attempt(client, token, UNKNOWN, "hunter2-wrong-secret", REMOTE_ADDR="10.3.0.1")
    attempt(client, token, ADMIN_EMAIL, ADMIN_PASSWORD, REMOTE_ADDR="10.3.0.2")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"sign-in failed: {ADMIN_EMAIL}" in text and "sign-in failed: an unknown account" in text
    assert "sign-in locked out" in text and f"sign-in: {ADMIN_EMAIL} from 10.3.0.2" in text
    assert "hunter2" not in text and ADMIN_PASSWORD not in text and UNKNOWN not in text


def test_sign_in_still_answers_and_throttles_when_redis_is_down(make_app, caplog):
    app = make_app(queue="redis://127.0.0.1:1/0")  # nothing listens there
    create_admin(app)
    client = app.test_client()
    token = login_form(client)
    statuses = [attempt(client, token, ADMIN_EMAIL, "wrong").status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]  # counted in memory meanwhile
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
