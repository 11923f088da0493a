"""`flask --app wsgi providers refresh KEY`: one provider's schema read again from Replicate, its changes shown in
words with the presets the new schema would refuse, and saved into the row only when the admin confirms."""

from __future__ import annotations

import dataclasses

import click
import httpx
from flask.cli import with_appcontext
from replicate.exceptions import ReplicateError
from sqlalchemy import select

from app import provider_rows
from app.cli.common import printable
from app.cli.provider_rows import lookup, replicate_client
from app.core.database import db
from app.models import Preset
from app.providers import schemas
from app.providers.catalog import Provider
from app.providers.schema_changes import describe_changes


@click.command("refresh")
@with_appcontext
@click.argument("key")
@click.option("--yes", is_flag=True, help="Save a changed schema without asking (for scripts).")
def providers_refresh(key: str, yes: bool) -> None:
    """Read KEY's model schema from Replicate again; show what changed and save it only when confirmed."""
    provider = lookup(key)
    try:
        version, published, source = schemas.fetch_published(replicate_client(), provider.model)
    except (ReplicateError, httpx.HTTPError, ValueError) as exc:
        raise click.ClickException(f"could not read {provider.model} from Replicate: {exc}") from None
    saved = provider.input_schema if provider.input_schema is not None else schemas.load_snapshot(key).input_schema
    changes = describe_changes(saved, published)
    if not changes:
        click.echo(f"{key}: unchanged ({provider.model} version {version}); nothing to save.")
        return
    click.echo(f"{key}: {provider.model} version {version} differs from the saved schema:")
    for line in changes:
        click.echo(f"  - {line}")
    refused = refused_presets(dataclasses.replace(provider, input_schema=published))
    for name, problem in refused:
        click.echo(f'Preset "{printable(name)}" has settings the new schema refuses: {problem}')
    if not yes and not click.confirm("Save the new schema?", default=False):
        raise click.ClickException("Nothing saved.")
    provider_rows.save_schema(key, version, source, published)
    db.session.commit()
    click.echo(f"{key}: schema saved (version {version}).")
    if refused:
        click.echo(f"Edit the {len(refused)} preset(s) above before they generate again.")


def refused_presets(candidate: Provider) -> list[tuple[str, str]]:
    """(name, problem) of each preset on the provider whose settings `candidate`'s schema would refuse."""
    presets = db.session.scalars(select(Preset).where(Preset.provider == candidate.name).order_by(Preset.name))
    found = ((p.name, candidate.settings_problems(p.settings or {})) for p in presets)
    return [(name, "; ".join(problems)) for name, problems in found if problems]
