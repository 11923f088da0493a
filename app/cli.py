"""`flask --app wsgi …` commands: usage, models, presets, generate, demo."""
from __future__ import annotations

import json
import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, or_, select

from .extensions import db
from .generation import GenerationError, MAX_EXAMPLES_PER_MODEL, request_generation
from .jobs import job_json, live_job_for_preset
from .models import GalleryExample, Preset, PresetModelUsage
from .presets import PresetError, apply_preset_fields
from .registry import RegistryError, load_registry_file
from .selection import clear_usage, usage_counts

usage_cli = AppGroup("usage", help="Which reference models each preset has used.")
models_cli = AppGroup("models", help="The registry of reference models (models.json).")
presets_cli = AppGroup("presets", help="Create and list presets.")

DEMO_PRESET = {
    "name": "Professional Headshot",
    "prompt": "Professional corporate headshot of this person, soft studio lighting, neutral grey background, "
              "sharp focus, business attire, 85mm lens",
    "provider": "NANO_BANANA",
    "settings": {"aspect_ratio": "match_input_image", "output_format": "jpg"},
}


def find_preset(ref: str) -> Preset:
    preset = db.session.scalars(select(Preset).where(or_(Preset.id == ref, Preset.name == ref))).first()
    if preset is None:
        raise click.ClickException(f"No preset with id or name {ref!r}. See `flask --app wsgi presets list`.")
    return preset


@usage_cli.command("clear")
@click.argument("preset_ref", metavar="PRESET")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def usage_clear(preset_ref: str, yes: bool):
    """Forget which models PRESET (id or name) used, so all can be selected again. Examples stay."""
    preset = find_preset(preset_ref)
    if live_job_for_preset(preset.id):
        raise click.ClickException(f'Preset "{preset.name}" has a job in progress; clear its usage once it has finished.')
    counts = usage_counts(preset.id)
    if not yes:
        click.confirm(f'Clear {counts["used"] + counts["reserved"]} usage rows of preset "{preset.name}"?', abort=True)
    removed = clear_usage(preset.id)
    db.session.commit()
    click.echo(f'Cleared {removed} usage rows of preset "{preset.name}"; all models can be selected again.')


@usage_cli.command("show")
@click.argument("preset_ref", metavar="PRESET")
def usage_show(preset_ref: str):
    """List the models PRESET has used or reserved."""
    preset = find_preset(preset_ref)
    rows = db.session.scalars(
        select(PresetModelUsage).where(PresetModelUsage.preset_id == preset.id).order_by(PresetModelUsage.model_id)
    ).all()
    total = len(current_app.extensions["pixelglow"].registry())
    click.echo(f'Preset "{preset.name}": {len(rows)} of {total} models taken')
    for row in rows:
        click.echo(f"  {row.model_id:<12} {row.state:<9} {row.used_at:%Y-%m-%d %H:%M}")


@models_cli.command("check")
def models_check():
    """Validate models.json and report how many models it holds."""
    path = current_app.extensions["pixelglow"].settings.models_file
    try:
        registry = load_registry_file(path)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{path.name}: {len(registry)} models ({len(registry.male)} male + {len(registry.female)} female), all valid")


@presets_cli.command("create")
@click.option("--name", required=True)
@click.option("--prompt", required=True)
@click.option("--provider", default="NANO_BANANA", show_default=True)
@click.option("--settings", "settings_json", default="{}", help="Provider settings as JSON.")
def presets_create(name: str, prompt: str, provider: str, settings_json: str):
    """Create a preset."""
    try:
        settings = json.loads(settings_json)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"--settings is not valid JSON: {exc.msg}") from None
    preset = Preset()
    try:
        apply_preset_fields(preset, {"name": name, "prompt": prompt, "provider": provider, "settings": settings}, True)
    except PresetError as exc:
        raise click.ClickException(exc.message) from None
    if db.session.scalar(select(Preset).where(Preset.name == preset.name)):
        raise click.ClickException(f"A preset named {preset.name!r} already exists.")
    db.session.add(preset)
    db.session.commit()
    click.echo(f'Created preset "{preset.name}" with id {preset.id}')


@presets_cli.command("list")
def presets_list():
    """List presets with their example counts and models used."""
    total = len(current_app.extensions["pixelglow"].registry())
    counts = dict(db.session.execute(
        select(GalleryExample.preset_id, func.count()).group_by(GalleryExample.preset_id)).all())
    for preset in db.session.scalars(select(Preset).order_by(Preset.name)):
        usage = usage_counts(preset.id)
        click.echo(f"{preset.id}  {preset.name:<32} {preset.provider:<16} examples={counts.get(preset.id, 0):<5} "
                   f"models={usage['used'] + usage['reserved']}/{total}")


@click.command("generate")
@with_appcontext
@click.argument("preset_ref", metavar="PRESET")
@click.option("--examples-per-model", "-n", default=1, show_default=True,
              type=click.IntRange(1, MAX_EXAMPLES_PER_MODEL))
@click.option("--wait", is_flag=True, help="Wait for the job and show its progress.")
@click.option("--timeout", default=1800, show_default=True, help="Seconds to wait at most with --wait.")
def generate(preset_ref: str, examples_per_model: int, wait: bool, timeout: int):
    """Queue an example generation for PRESET (id or name)."""
    preset = find_preset(preset_ref)
    try:
        queued = request_generation(preset.id, examples_per_model)
    except GenerationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{queued.message}: job {queued.job.id}, {queued.job.total} images")
    if queued.selection.warning:
        click.echo(f"Warning: {queued.selection.warning}")
    if not wait:
        return
    status = wait_for_job(queued.job.id, queued.job.total, timeout)
    if status not in ("succeeded",):
        sys.exit(1)


def wait_for_job(job_id: str, total: int, timeout: int) -> str:
    deadline = time.monotonic() + timeout
    shown = 0
    data = None
    with click.progressbar(length=100, label="Generating", show_percent=True) as bar:
        while time.monotonic() < deadline:
            db.session.rollback()  # see the worker's commits
            data = job_json(job_id)
            if data is None:
                raise click.ClickException(f"Job {job_id} disappeared (was its preset deleted?).")
            percent = int(data.get("percent") or 0)
            bar.update(percent - shown)
            shown = percent
            if data["status"] not in ("queued", "running"):
                break
            time.sleep(0.5)
        else:
            raise click.ClickException(f"Job {job_id} did not finish within {timeout} s; it goes on in the background.")
    click.echo(f"Job {job_id} {data['status']}: {data['done']} stored, {data['failed']} failed of {data['total']}"
               + (" (offline placeholders)" if data.get("offline") else ""))
    for item in data.get("items") or []:
        if item.get("state") == "failed":
            click.echo(f"  {item['modelId']} #{item['index']}: {item['error']}")
    return data["status"]


@click.command("demo")
@with_appcontext
def demo():
    """Create the demo preset (idempotent); used by the first-run command."""
    preset = db.session.scalar(select(Preset).where(Preset.name == DEMO_PRESET["name"]))
    if preset is None:
        preset = Preset()
        apply_preset_fields(preset, DEMO_PRESET, creating=True)
        db.session.add(preset)
        db.session.commit()
        click.echo(f'Created demo preset "{preset.name}" ({preset.id})')
    else:
        click.echo(f'Demo preset "{preset.name}" exists ({preset.id})')


def init_app(app) -> None:
    for command in (usage_cli, models_cli, presets_cli, generate, demo):
        app.cli.add_command(command)
