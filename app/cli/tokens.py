"""`flask --app wsgi tokens …`: named API tokens (Bearer), each revocable, each with an optional expiry."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup

from app.accounts.audit import record
from app.accounts.tokens import TokenError, all_tokens, create_token, parse_lifetime, revoke_token
from app.cli.common import cli_actor
from app.core.database import db

tokens_cli = AppGroup("tokens", help="Named API tokens (Bearer), besides ADMIN_API_TOKEN.")


def lifetime_option(ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_lifetime(value)
    except TokenError as exc:
        raise click.BadParameter(str(exc)) from None


@tokens_cli.command("create")
@click.argument("name")
@click.option(
    "--expires",
    "lifetime",
    metavar="DURATION",
    callback=lifetime_option,
    help="Expire after this long: hours, days or weeks, e.g. 12h, 90d, 8w (default: never).",
)
def tokens_create(name: str, lifetime: timedelta | None) -> None:
    """Create the API token NAME and print it (once: only its hash is stored)."""
    try:
        row, token = create_token(name, created_by=cli_actor(), lifetime=lifetime)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    expiry = f"expires {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else None
    record(cli_actor(), "token.create", f"token {row.name}", expiry)
    db.session.commit()
    click.echo(f"Created API token {row.name!r} ({expiry or 'never expires'}).")
    click.echo("Send it as 'Authorization: Bearer <token>'; it is not shown again:")
    click.echo(token)


@tokens_cli.command("list")
def tokens_list() -> None:
    """List the named API tokens (never the tokens themselves)."""
    rows = all_tokens()
    if not rows:
        click.echo("No named API tokens (ADMIN_API_TOKEN from the environment is accepted when it is set).")
    for row in rows:
        used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
        if row.revoked_at:
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}"
        elif row.expires_at:
            state = f"{'EXPIRED' if row.expired else 'active, expires'} {row.expires_at:%Y-%m-%d %H:%M} UTC"
        else:
            state = "active, never expires"
        click.echo(
            f"{row.name:<32} created {row.created_at:%Y-%m-%d} by {row.created_by or '?'}  last used {used}  {state}"
        )


@tokens_cli.command("revoke")
@click.argument("name")
def tokens_revoke(name: str) -> None:
    """Revoke the API token NAME: from now on it gets 401."""
    try:
        row = revoke_token(name)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    record(cli_actor(), "token.revoke", f"token {row.name}")
    db.session.commit()
    click.echo(f"Revoked API token {row.name!r}.")
