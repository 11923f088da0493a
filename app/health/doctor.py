"""What `flask doctor` checks besides readiness: can jobs actually run, and be paid for."""

from __future__ import annotations

import sqlite3

import httpx
import redis
from replicate.exceptions import ReplicateError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.core.database import db
from app.health.checks import Check, Down, run_check
from app.health.readiness import database_error, readiness_checks
from app.models import Job, JobStatus, utcnow
from app.providers.replicate.readings import NEVER
from app.services import CONSUMER_COMMAND, Services

QUEUED_TOO_LONG = 300  # seconds a job may wait in the queue before the doctor calls it stuck
TOKEN_FIX = "set REPLICATE_API_TOKEN to a token from https://replicate.com/account/api-tokens"


def replicate_token(services: Services) -> str:
    """One cheap authenticated call (GET /v1/account), paid from the read budget like every read."""
    settings = services.settings
    if settings.offline and not settings.replicate_api_token:
        return "not needed: offline mode draws placeholders"
    services.read_limiter().acquire(NEVER)
    services.api_usage().record("read")
    try:
        account = services.replicate_client().accounts.current()
    except ReplicateError as exc:
        if exc.status in (401, 403):
            raise Down(f"refused by Replicate ({exc.status} {exc.title})", TOKEN_FIX, str(exc)) from None
        raise Down(f"Replicate answered {exc.status} {exc.title}", "try again later", str(exc)) from None
    except httpx.HTTPError as exc:
        raise Down("Replicate is unreachable", "check the network (and REPLICATE_BASE_URL if set)", str(exc)) from None
    return f"accepted (account {account.username})"


def webhook_secret(services: Services) -> str:
    settings = services.settings
    if settings.offline or not settings.webhook_url:
        return "not needed: webhooks are off (PUBLIC_BASE_URL unset or offline mode)"
    if settings.webhook_secret:
        return "REPLICATE_WEBHOOK_SECRET is set"
    try:
        services.webhook_secret()
    except (ReplicateError, httpx.HTTPError) as exc:
        raise Down(
            "cannot be read from Replicate",
            "set REPLICATE_WEBHOOK_SECRET (Replicate: account settings, webhooks), or fix the token",
            str(exc),
        ) from None
    return "read from Replicate"


def consumers(services: Services) -> str:
    try:
        alive = services.progress.alive()
    except (redis.RedisError, sqlite3.Error) as exc:
        raise Down(
            "unknown: their heartbeats cannot be read", "see the redis and progress store checks", str(exc)
        ) from None
    if not alive:
        raise Down("none alive: queued jobs wait until one starts", f"start one: {CONSUMER_COMMAND}")
    return f"{len(alive)} alive ({', '.join(sorted(alive)[:5])}{', …' if len(alive) > 5 else ''})"


def oldest_queued_job(services: Services) -> str:
    try:
        oldest = db.session.execute(
            select(Job.id, Job.created_at).where(Job.status == JobStatus.QUEUED).order_by(Job.created_at).limit(1)
        ).first()
    except SQLAlchemyError as exc:
        raise Down("unknown: the database is unreachable", "see the database check", database_error(exc)) from None
    finally:
        db.session.rollback()  # end the read (or the failed one)
    if oldest is None:
        return "no job is waiting"
    waited = int((utcnow() - oldest.created_at).total_seconds())
    if waited > QUEUED_TOO_LONG:
        raise Down(
            f"job {oldest.id} has waited {waited} s",
            f"no consumer takes jobs: start one ({CONSUMER_COMMAND}), or add consumers if all are busy",
        )
    return f"job {oldest.id} has waited {waited} s"


DOCTOR = (
    ("replicate token", replicate_token, TOKEN_FIX),
    ("webhook secret", webhook_secret, "set REPLICATE_WEBHOOK_SECRET"),
    ("consumers", consumers, f"start one: {CONSUMER_COMMAND}"),
    ("oldest queued job", oldest_queued_job, "start the database, or correct DATABASE_URL"),
)


def doctor_checks(services: Services) -> list[Check]:
    """Readiness first, then what running a job needs."""
    extra = [run_check(name, probe, services, fix) for name, probe, fix in DOCTOR]
    return readiness_checks(services) + extra
