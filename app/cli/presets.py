"""`flask --app wsgi presets …`: create and list presets."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.cli.common import cli_actor, printable, services
from app.core.database import db
from app.core.errors import PresetError
from app.models import GalleryExample, Preset
from app.pool.selection import usage_counts
from app.presets import service as preset_service

presets_cli = AppGroup("presets", help="Create and list presets.")


@presets_cli.command("create")
@click.option("--name", required=True)
@click.option("--prompt", required=True)
@click.option("--provider", default="NANO_BANANA", show_default=True)
@click.option("--settings", "settings_json", default="{}", help="Provider settings as JSON.")
def presets_create(name: str, prompt: str, provider: str, settings_json: str) -> None:
    """Create a preset."""
    try:
        settings = json.loads(settings_json)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"--settings is not valid JSON: {exc.msg}") from None
    fields = {"name": name, "prompt": prompt, "provider": provider, "settings": settings}
    try:
        preset = preset_service.create_preset(fields, cli_actor())
    except PresetError as exc:
        raise click.ClickException(printable(exc.message)) from None
    click.echo(f'Created preset "{preset.name}" with id {preset.id}')


@presets_cli.command("list")
def presets_list() -> None:
    """List presets with their example counts and models used."""
    total = len(services().registry())
    counts = dict(
        db.session.execute(select(GalleryExample.preset_id, func.count()).group_by(GalleryExample.preset_id)).all()
    )
    for preset in db.session.scalars(select(Preset).order_by(Preset.name)):
        usage = usage_counts(preset.id)
        click.echo(
            f"{preset.id}  {printable(preset.name):<32} {preset.provider:<16} examples={counts.get(preset.id, 0):<5} "
            f"models={usage['used'] + usage['reserved']}/{total}"
        )
