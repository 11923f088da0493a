"""`flask --app wsgi providers …`: the image models behind the presets and their input schemas."""

from __future__ import annotations

import sys

import click
import httpx
import replicate
from flask.cli import AppGroup
from replicate.exceptions import ReplicateError
from sqlalchemy import select

from app.cli.common import printable, services
from app.core.database import db
from app.models import Preset
from app.presets.rules import settings_problem
from app.providers import schemas
from app.providers.catalog import PROVIDERS

providers_cli = AppGroup("providers", help="The image models behind the presets and their input schemas.")


@providers_cli.command("schemas")
@click.option(
    "--refresh", is_flag=True, help="Fetch each model's current schema from Replicate and show the differences."
)
@click.option("--write", is_flag=True, help="With --refresh: update the snapshots that differ.")
def providers_schemas(refresh: bool, write: bool) -> None:
    """Show the input-schema snapshots behind preset settings; --refresh compares them with Replicate's."""
    if write and not refresh:
        raise click.UsageError("--write only goes with --refresh.")
    if not refresh:
        for provider in PROVIDERS.values():
            snap = schemas.load_snapshot(provider.name)
            click.echo(
                f"{provider.name:<17} {snap.model} version {snap.version or '?'}: {len(provider.settings)} "
                f"settings; read {snap.retrieved} from {snap.source}"
            )
        return
    settings = services().settings
    if not settings.replicate_api_token:
        raise click.ClickException("REPLICATE_API_TOKEN is not set: --refresh reads the schemas from Replicate.")
    client = replicate.Client(api_token=settings.replicate_api_token, base_url=settings.replicate_base_url)
    changed = [name for name in PROVIDERS if refresh_schema(client, name, write)]
    if changed and write:
        refused = [p for p in db.session.scalars(select(Preset).order_by(Preset.name)) if settings_problem(p)]
        for preset in refused:
            name, problem = printable(preset.name), settings_problem(preset)
            click.echo(f'Preset "{name}" has settings the new schema refuses: {problem}')
    elif changed:
        click.echo("Run again with --write to update the snapshots.")
        sys.exit(1)


def refresh_schema(client: replicate.Client, provider_name: str, write: bool) -> bool:
    """Compare one provider's snapshot with Replicate's schema; True when they differ."""
    snap = schemas.load_snapshot(provider_name)
    try:
        version, published, source = schemas.fetch_published(client, snap.model)
    except (ReplicateError, httpx.HTTPError, ValueError) as exc:
        raise click.ClickException(f"{provider_name}: could not read {snap.model} from Replicate: {exc}") from None
    lines = schemas.diff(snap.input_schema, published, provider_name)
    if not lines:
        click.echo(f"{provider_name}: unchanged ({snap.model} version {version})")
        return False
    click.echo("\n".join(lines))
    if write:
        schemas.write_snapshot(provider_name, snap.model, version, source, published)
        click.echo(f"{provider_name}: snapshot updated to version {version}")
    return True
