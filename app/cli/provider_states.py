"""`flask --app wsgi providers enable|disable KEY`: turn a provider on or off. This year's models ship turned off
(migration 0020), so each is offered only once an admin turns it on; the web side and the workers read the rows
per request and per job, so the change shows without a restart."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app import provider_rows
from app.cli.common import printable
from app.cli.provider_rows import lookup, presets_on
from app.core.database import db


@click.command("enable")
@with_appcontext
@click.argument("key")
def providers_enable(key: str) -> None:
    """Turn a provider on: presets may use it from their next request."""
    found = lookup(key)
    if found.active:
        click.echo(f"{key} is on already ({found.model}).")
        return
    if found.state == provider_rows.RETIRED:
        raise click.ClickException(f"{key} is retired: it is kept for its history and cannot be turned on again.")
    provider_rows.set_state(key, provider_rows.ACTIVE)
    db.session.commit()
    click.echo(f"{key} is on: presets can use {found.display_name} ({found.model}) now.")


@click.command("disable")
@with_appcontext
@click.argument("key")
def providers_disable(key: str) -> None:
    """Turn a provider off: presets on it keep their history and are asked to switch (or to turn it on again)."""
    found = lookup(key)
    if found.state == provider_rows.DISABLED:
        click.echo(f"{key} is off already.")
        return
    if found.state == provider_rows.RETIRED:
        raise click.ClickException(f"{key} is retired: it is off for good.")
    provider_rows.set_state(key, provider_rows.DISABLED)
    db.session.commit()
    click.echo(f"{key} is off: `flask --app wsgi providers enable {key}` turns it on again.")
    choices = ", ".join(provider_rows.active_providers())
    for name in presets_on(key):
        click.echo(f'Preset "{printable(name)}" uses it: switch it to one of {choices}')
