"""Probes for load balancers and orchestrators: `GET /healthz` (the process answers) and `GET /readyz`
(it can work: database, migrations, Redis, models.json, storage).

No sign-in, no session, no CSRF token (GET only) and no rate limit: a probe must never be refused for who it
is. /healthz touches nothing. /readyz names every check and what is down, never a URL, password or token,
and answers 503 while any is down.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from app.health import readiness_checks
from app.web.context import services

bp = Blueprint("health", __name__)

PROBE_PATHS = ("/healthz", "/readyz")
NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok"), 200, NO_STORE


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    checks = readiness_checks(services())
    down = [check.name for check in checks if not check.ok]
    body = {
        "ready": not down,
        "down": down,
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
    }
    return jsonify(body), 503 if down else 200, NO_STORE
