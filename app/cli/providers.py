"""`flask --app wsgi providers …`: the image models behind the presets and their input schemas."""

from __future__ import annotations

import sys

import click
import httpx
import replicate
from flask.cli import AppGroup
from replicate.exceptions import ReplicateError
from sqlalchemy import select

from app import provider_rows
from app.cli.common import printable, services
from app.core.database import db
from app.models import Preset, ProviderRow
from app.presets.rules import settings_problem
from app.providers import catalog, schemas
from app.providers.schema_changes import describe_changes

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
    rows = list(db.session.scalars(select(ProviderRow).order_by(ProviderRow.id)))
    if not refresh:
        for row in rows:
            provider = provider_rows.as_provider(row)
            click.echo(
                f"{row.key:<17} {row.model} version {row.version or '?'}: {len(provider.settings)} "
                f"settings; read {row.schema_retrieved} from {row.schema_source}"
            )
        return
    settings = services().settings
    if not settings.replicate_api_token:
        raise click.ClickException("REPLICATE_API_TOKEN is not set: --refresh reads the schemas from Replicate.")
    client = replicate.Client(api_token=settings.replicate_api_token, base_url=settings.replicate_base_url)
    changed = [row.key for row in rows if refresh_schema(client, row, write)]
    if changed and write:
        db.session.commit()
        refused = [p for p in db.session.scalars(select(Preset).order_by(Preset.name)) if settings_problem(p)]
        for preset in refused:
            name, problem = printable(preset.name), settings_problem(preset)
            click.echo(f'Preset "{name}" has settings the new schema refuses: {problem}')
    elif changed:
        click.echo("Run again with --write to update the snapshots.")
        sys.exit(1)


def refresh_schema(client: replicate.Client, row: ProviderRow, write: bool) -> bool:
    """Compare one provider row's snapshot with Replicate's schema; True when they differ. With `write` the row
    takes the new one (and a seed provider's file in schemas/ too: the snapshot a fresh database starts with)."""
    name = row.key
    try:
        version, published, source = schemas.fetch_published(client, row.model)
    except (ReplicateError, httpx.HTTPError, ValueError) as exc:
        raise click.ClickException(f"{name}: could not read {row.model} from Replicate: {exc}") from None
    lines = schemas.diff(row.input_schema, published, name)
    if not lines:
        click.echo(f"{name}: unchanged ({row.model} version {version})")
        return False
    click.echo(f"{name}: {row.model} version {version} differs from the saved schema:")
    click.echo("\n".join(f"  - {line}" for line in describe_changes(row.input_schema, published)))
    click.echo("\n".join(lines))
    if write:
        provider_rows.save_schema(name, version, source, published)
        if name in catalog.PROVIDERS:
            schemas.write_snapshot(name, row.model, version, source, published)
        click.echo(f"{name}: snapshot updated to version {version}")
    return True
