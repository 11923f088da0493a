"""Helpers every command group shares: the app's services, who runs the command, finding a preset."""

from __future__ import annotations

import getpass

import click
from flask import current_app
from sqlalchemy import or_, select

from app.core.database import db
from app.models import Preset
from app.presets.rules import CONTROL
from app.services import Services, services_of


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


def echo_step(done: int, total: int, name: str, outcome: str, detail: str = "", failed: bool = False) -> None:
    """One line of a long command's progress: `[ 12/72] male_12: cached (detail)`, on stderr when it failed."""
    line = f"[{done:>{len(str(total))}}/{total}] {name}: {outcome}"
    click.echo(f"{line} ({detail})" if detail else line, err=failed)


def named_some(names: list[str], shown: int = 10) -> str:
    """The first `shown` names and how many more: what a failure message can list."""
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def printable(text: str) -> str:
    """`text` with its control characters written as Python escapes them (`\\x1b`, `\\n`): a name stored before
    they were refused must not drive the terminal it is printed on."""
    return CONTROL.sub(lambda match: repr(match.group())[1:-1], text)
