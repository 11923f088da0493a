"""`flask --app wsgi usage …`: which reference models each preset has used."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.cli.common import cli_actor, find_preset, printable, services
from app.core.database import db
from app.core.errors import GenerationError
from app.models import PresetModelUsage
from app.pool.release import clear_preset_usage, refuse_while_live, release_one_model
from app.pool.selection import usage_counts

usage_cli = AppGroup("usage", help="Which reference models each preset has used.")


@usage_cli.command("clear")
@click.argument("preset_ref", metavar="PRESET")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def usage_clear(preset_ref: str, yes: bool) -> None:
    """Forget which models PRESET (id or name) used, so all can be selected again. Examples stay."""
    preset = find_preset(preset_ref)
    try:
        refuse_while_live(preset)  # before asking, not after
        counts = usage_counts(preset.id)
        if not yes:
            rows = counts["used"] + counts["reserved"]
            click.confirm(f'Clear {rows} usage rows of preset "{printable(preset.name)}"?', abort=True)
        click.echo(printable(clear_preset_usage(preset, cli_actor())))
    except GenerationError as exc:
        db.session.rollback()
        raise click.ClickException(printable(exc.message)) from None


@usage_cli.command("release")
@click.argument("preset_ref", metavar="PRESET")
@click.argument("model_id", metavar="MODEL")
def usage_release(preset_ref: str, model_id: str) -> None:
    """Make one model PRESET used free again (its examples stay); refused while a running job holds it."""
    preset = find_preset(preset_ref)
    try:
        click.echo(printable(release_one_model(services(), preset.id, model_id, cli_actor())))
    except GenerationError as exc:
        db.session.rollback()
        raise click.ClickException(printable(exc.message)) from None  # messages name the preset


@usage_cli.command("show")
@click.argument("preset_ref", metavar="PRESET")
def usage_show(preset_ref: str) -> None:
    """List the models PRESET has used or reserved."""
    preset = find_preset(preset_ref)
    rows = db.session.scalars(
        select(PresetModelUsage).where(PresetModelUsage.preset_id == preset.id).order_by(PresetModelUsage.model_id)
    ).all()
    total = len(services().registry())
    click.echo(f'Preset "{printable(preset.name)}": {len(rows)} of {total} models taken')
    for row in rows:
        click.echo(f"  {row.model_id:<12} {row.state:<9} {row.used_at:%Y-%m-%d %H:%M}")
