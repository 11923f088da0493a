"""Helpers every command group shares: the app's services, who runs the command, finding a preset."""

from __future__ import annotations

import getpass

import click
from flask import current_app
from sqlalchemy import or_, select

from ..database import db
from ..models import Preset
from ..services import Services, services_of


def services() -> Services:
    return services_of(current_app)


def cli_actor() -> str:
    """Who runs this command, for the job and the audit trail."""
    try:
        return f"cli {getpass.getuser()}"
    except (KeyError, OSError):  # no login name (e.g. a container without USER)
        return "cli"


def find_preset(ref: str) -> Preset:
    preset = db.session.scalars(select(Preset).where(or_(Preset.id == ref, Preset.name == ref))).first()
    if preset is None:
        raise click.ClickException(f"No preset with id or name {ref!r}. See `flask --app wsgi presets list`.")
    return preset
