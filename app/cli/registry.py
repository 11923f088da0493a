"""`flask --app wsgi models …`: the registry of reference models (models.json)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..registry import RegistryError, load_registry_file
from .common import services

models_cli = AppGroup("models", help="The registry of reference models (models.json).")


@models_cli.command("check")
def models_check():
    """Validate models.json and report how many models it holds."""
    path = services().settings.models_file
    try:
        registry = load_registry_file(path)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{path.name}: {len(registry)} models ({len(registry.male)} male + {len(registry.female)} female), all valid"
    )
