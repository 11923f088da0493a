"""Run as `python -m tests.sentry_probe` with SENTRY_DSN set: the web app built as gunicorn builds it (`wsgi.app`,
which starts error reporting), one request whose view raises, then one task that raises, run by Huey (immediate
mode, so no consumer is needed). Each exception carries secrets: in its message, in local variables, in the
request's headers, cookie and query string. The test reads what the recording server received."""

from __future__ import annotations

import os
import sys

import sentry_sdk

import app.tasks
import wsgi

TOKEN = os.environ.get("REPLICATE_API_TOKEN", "")
PASSWORD = "correct-horse-battery-staple-42"
SESSION_ID = "sess-0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def request_that_fails() -> int:
    web = wsgi.app

    @web.post("/probe/explode")
    def explode() -> str:
        password = PASSWORD  # noqa: F841  (a local variable the event would show)
        session_id = SESSION_ID  # noqa: F841
        raise RuntimeError(f"Replicate said no to {TOKEN} (password={PASSWORD})")

    web.config["PROPAGATE_EXCEPTIONS"] = False
    client = web.test_client()
    client.set_cookie("session", SESSION_ID)
    answer = client.post(
        f"/probe/explode?password={PASSWORD}&token={TOKEN}",
        data={"email": "a@example.com", "password": PASSWORD},
        headers={"Authorization": f"Bearer {os.environ['ADMIN_API_TOKEN']}", "X-Replicate-Token": TOKEN},
    )
    return answer.status_code


def task_that_fails() -> None:
    def failing_run_job(job_id: str, services: object) -> None:
        replicate_api_token = TOKEN  # noqa: F841
        raise ValueError(f"job {job_id}: create refused for token {TOKEN}")

    app.tasks.run_job = failing_run_job  # type: ignore[assignment]
    app.tasks.huey.immediate = True
    with wsgi.app.app_context():
        app.tasks.generate_examples("probe-job")


if __name__ == "__main__":
    status = request_that_fails()
    task_that_fails()
    sentry_sdk.flush(10)
    print(f"request status {status}", flush=True)
    sys.exit(0)
