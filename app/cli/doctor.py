"""`flask --app wsgi doctor`: every check of /readyz plus what running a job needs, each with its fix.

Exit code 1 when any check fails, so a deploy script can stop on it.
"""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from app.cli.common import services
from app.health import doctor_checks


@click.command("doctor")
@with_appcontext
def doctor() -> None:
    """Check the database, migrations, Redis, models.json, storage, the Replicate token, the webhook secret,
    live consumers and the oldest queued job; print each, with what to do when it fails."""
    checks = doctor_checks(services())
    width = max(len(c.name) for c in checks)
    for check in checks:
        click.echo(f"{'ok  ' if check.ok else 'FAIL'}  {check.name:<{width}}  {check.detail}")
        if check.cause:
            click.echo(f"      {'':<{width}}  cause: {check.cause}")
        if check.fix and not check.ok:
            click.echo(f"      {'':<{width}}  fix: {check.fix}")
    failed = [c.name for c in checks if not c.ok]
    if failed:
        click.echo(f"{len(failed)} of {len(checks)} checks failed: {', '.join(failed)}")
        sys.exit(1)
    click.echo(f"All {len(checks)} checks passed.")
