"""What /readyz checks: can this process serve requests and queue jobs right now."""

from __future__ import annotations

import functools
import uuid

import redis
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from app.core.config import PROJECT_ROOT
from app.core.database import db
from app.health.checks import Check, Down, run_check
from app.jobs.embedded_store import StoreDamaged
from app.services import Services

MIGRATIONS = PROJECT_ROOT / "migrations"
REDIS_TIMEOUT = 2.0  # seconds; a probe must answer before the load balancer gives up on it
PROBE_PREFIX = "health"  # storage keys the write probe uses (and deletes)


def database_error(exc: SQLAlchemyError) -> str:
    """The driver's own message, without SQLAlchemy's wrapping and link."""
    return str(getattr(exc, "orig", None) or exc)


def database(services: Services) -> str:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise Down("unreachable", "start the database, or correct DATABASE_URL", database_error(exc)) from None
    return f"reachable ({db.engine.dialect.name})"


@functools.cache
def code_heads() -> frozenset[str]:
    """The migrations this code expects (read once: the code does not change while it runs)."""
    return frozenset(ScriptDirectory(str(MIGRATIONS)).get_heads())


def applied_migrations() -> frozenset[str]:
    """alembic_version's rows, read directly (alembic's MigrationContext logs two lines per probe)."""
    try:
        with db.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return frozenset()
            return frozenset(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except SQLAlchemyError as exc:
        raise Down("unknown: the database is unreachable", "see the database check", database_error(exc)) from None


def migrations(services: Services) -> str:
    current = applied_migrations()
    if current != code_heads():
        found = ", ".join(sorted(current)) or "no migration"
        raise Down(
            f"behind: the database is at {found}, the code needs {', '.join(sorted(code_heads()))}",
            "run `flask --app wsgi db upgrade`",
        )
    return f"at head ({', '.join(sorted(current))})"


def redis_check(services: Services) -> str:
    url = services.settings.redis_url
    if not url:
        return "not configured: the embedded queue and progress store in instance/ are used"
    client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise Down("unreachable", "start Redis, or correct REDIS_URL", str(exc)) from None
    finally:
        client.close()
    return "reachable"


def progress_store(services: Services) -> str:
    """The embedded store, when there is no Redis: it reads back whole and takes a write."""
    if services.settings.redis_url:
        return "in Redis (see the redis check)"
    try:
        services.progress.ping()
    except StoreDamaged as exc:
        raise Down(f"damaged: {exc.path.name} ({exc.problem})", exc.fix, str(exc)) from None
    return "embedded (progress.sqlite3 in the instance folder): readable and writable"


def registry(services: Services) -> str:
    problem = services.registry_problem()
    in_use = services.registry_file.last_good
    if problem is not None:
        kept = f"the last good registry ({len(in_use)} models) is in use" if in_use else "no registry is loaded"
        raise Down(
            f"{problem.message}; {kept}", "fix models.json (`flask --app wsgi models check` lists every problem)"
        )
    assert in_use is not None
    return f"{len(in_use)} models ({len(in_use.male)} male + {len(in_use.female)} female)"


def storage(services: Services) -> str:
    key = f"{PROBE_PREFIX}/probe-{uuid.uuid4().hex}"
    try:
        services.storage.save_bytes(key, b"ok")
        services.storage.delete(key)
    except OSError as exc:  # a bucket's failures are StorageErrors, OSErrors too
        raise Down("not writable", storage_fix(services), f"{exc.__class__.__name__}: {exc}") from None
    return "writable (S3 bucket)" if services.settings.s3.enabled else "writable"


def storage_fix(services: Services) -> str:
    if services.settings.s3.enabled:
        return "check S3_BUCKET, the AWS_* credentials (they must allow put and delete) and S3_ENDPOINT_URL"
    return "make MEDIA_DIR a folder this process can write"


READINESS = (
    ("database", database, "start the database, or correct DATABASE_URL"),
    ("migrations", migrations, "run `flask --app wsgi db upgrade`"),
    ("progress store", progress_store, "see the cause"),
    ("redis", redis_check, "start Redis, or correct REDIS_URL"),
    ("registry", registry, "fix models.json (`flask --app wsgi models check` lists every problem)"),
    ("storage", storage, "make MEDIA_DIR a folder this process can write"),
)


def readiness_checks(services: Services) -> list[Check]:
    return [run_check(name, probe, services, fix) for name, probe, fix in READINESS]
