"""`flask --app wsgi users …`: admin accounts for the web admin."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.accounts.audit import record
from app.accounts.sessions import revoke_user_sessions
from app.accounts.users import User, UserError, create_user, disable_user, find_user
from app.cli.common import cli_actor
from app.core.database import db

users_cli = AppGroup("users", help="Admin accounts for the web admin.")


@users_cli.command("create")
@click.argument("email")
@click.password_option(help="The password (prompted twice when not given).")
def users_create(email: str, password: str) -> None:
    """Create an admin who signs in with EMAIL; the password is prompted."""
    try:
        user = create_user(email, password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created admin {user.email}. Sign in at /admin/login.")


@users_cli.command("set-password")
@click.argument("email")
@click.password_option(help="The new password (prompted twice when not given).")
def users_set_password(email: str, password: str) -> None:
    """Change the password of the admin EMAIL (signs out their other sessions)."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"No admin with the email {email!r}. See `flask --app wsgi users list`.")
    try:
        user.set_password(password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    ended = revoke_user_sessions(user.id)
    record(cli_actor(), "user.set-password", user.email, f"{ended} sessions ended")
    db.session.commit()
    click.echo(f"Password of {user.email} changed; {ended} sessions ended.")


@users_cli.command("disable")
@click.argument("email")
def users_disable(email: str) -> None:
    """Disable the admin EMAIL: they can no longer sign in, and every session of theirs ends now."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"No admin with the email {email!r}. See `flask --app wsgi users list`.")
    disable_user(user)
    ended = revoke_user_sessions(user.id)
    record(cli_actor(), "user.disable", user.email, f"{ended} sessions ended")
    db.session.commit()
    click.echo(f"Disabled {user.email}; {ended} sessions ended.")


@users_cli.command("list")
def users_list() -> None:
    """List the admins."""
    for user in db.session.scalars(select(User).order_by(User.email)):
        last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
        state = "  DISABLED" if user.disabled else ""
        click.echo(f"{user.email:<40} created {user.created_at:%Y-%m-%d}  last sign-in {last}{state}")
