"""Benchmark 12: a wrong password for a known and for an unknown email answer in the same time, failing (401) and
locked out (429), so the sign-in page does not tell which emails have an account. The unit test checks the same
password work is done either way; this measures it."""

from __future__ import annotations

import time

from tests.benchmarks.helpers import Report, fmt, median
from tests.conftest import ADMIN_EMAIL, create_admin, csrf_token_of

UNKNOWN = "nobody@example.com"
ROUNDS = 25


def attempt(client, token: str, email: str, address: str) -> tuple[int, float]:
    start = time.perf_counter()
    status = client.post(
        "/admin/login",
        data={"email": email, "password": "wrong password", "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    ).status_code
    return status, time.perf_counter() - start


def test_bench_12_signin_timing(make_app):
    report = Report(
        "12",
        "Sign-in: a known and an unknown email answer in the same time",
        f"Flask test client, scrypt as configured; {ROUNDS} interleaved pairs of wrong-password attempts from fresh "
        "addresses (401), then from one address once both are locked out (429); medians.",
    )
    admin_app = make_app()
    create_admin(admin_app, product_cost=True)  # hashed as `users create` hashes it
    client = admin_app.test_client()
    token = csrf_token_of(client.get("/admin/login").get_data(as_text=True))
    timings: dict[tuple[str, int], list[float]] = {}
    for i in range(ROUNDS):
        for email in (ADMIN_EMAIL, UNKNOWN):
            status, took = attempt(client, token, email, f"10.1.{i}.{len(email)}")
            timings.setdefault((email, status), []).append(took)
    for _ in range(6):
        for email in (ADMIN_EMAIL, UNKNOWN):
            attempt(client, token, email, "10.2.0.1")
    for _ in range(ROUNDS):
        for email in (ADMIN_EMAIL, UNKNOWN):
            status, took = attempt(client, token, email, "10.2.0.1")
            timings.setdefault((email, status), []).append(took)
    for status in (401, 429):
        known, unknown = median(timings[(ADMIN_EMAIL, status)]), median(timings[(UNKNOWN, status)])
        report.row(f"{status}: known email, median", fmt(known * 1000, " ms"))
        report.row(f"{status}: unknown email, median", fmt(unknown * 1000, " ms"))
        gap = abs(known - unknown) / max(known, unknown)
        report.row(f"{status}: difference", fmt(gap * 100, " %", 1), "< 15 %", gap < 0.15)
    report.publish()
