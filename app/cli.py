"""`flask --app wsgi …` commands: usage, models, presets, users, generate, demo."""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import sys
import time
from datetime import timedelta

import click
import httpx
import replicate
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from replicate.exceptions import ReplicateError
from sqlalchemy import delete, func, or_, select, update

from .api_tokens import TokenError, all_tokens, create_token, revoke_token
from .audit import record
from .database import db
from .generation.jobs import job_json, live_job_for_preset
from .generation.submit import MAX_EXAMPLES_PER_MODEL, GenerationError, request_generation
from .models import JOB_FINAL, GalleryExample, Job, JobItem, Preset, PresetModelUsage, utcnow
from .presets import PresetError, apply_preset_fields, settings_problem
from .providers import schemas
from .providers.catalog import PROVIDERS
from .registry import RegistryError, load_registry_file
from .selection import clear_usage, usage_counts
from .services import Services
from .sessions import revoke_user_sessions
from .users import User, UserError, create_user, disable_user, find_user

usage_cli = AppGroup("usage", help="Which reference models each preset has used.")
models_cli = AppGroup("models", help="The registry of reference models (models.json).")
presets_cli = AppGroup("presets", help="Create and list presets.")
users_cli = AppGroup("users", help="Admin accounts for the web admin.")
providers_cli = AppGroup("providers", help="The image models behind the presets and their input schemas.")
tokens_cli = AppGroup("tokens", help="Named API tokens (Bearer), besides ADMIN_API_TOKEN.")

DEMO_PRESET = {
    "name": "Professional Headshot",
    "prompt": "Professional corporate headshot of this person, soft studio lighting, neutral grey background, "
    "sharp focus, business attire, 85mm lens",
    "provider": "NANO_BANANA",
    "settings": {"aspect_ratio": "match_input_image", "output_format": "jpg"},
}
DEMO_ADMIN_EMAIL = "admin@example.com"


def services() -> Services:
    return current_app.extensions["pixelglow"]


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


@usage_cli.command("clear")
@click.argument("preset_ref", metavar="PRESET")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def usage_clear(preset_ref: str, yes: bool):
    """Forget which models PRESET (id or name) used, so all can be selected again. Examples stay."""
    preset = find_preset(preset_ref)
    if live_job_for_preset(preset.id):
        raise click.ClickException(
            f'Preset "{preset.name}" has a job in progress; clear its usage once it has finished.'
        )
    counts = usage_counts(preset.id)
    if not yes:
        click.confirm(f'Clear {counts["used"] + counts["reserved"]} usage rows of preset "{preset.name}"?', abort=True)
    removed = clear_usage(preset.id)
    record(cli_actor(), "usage.clear", f"preset {preset.name}", f"{removed} usage rows")
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
    total = len(services().registry())
    click.echo(f'Preset "{preset.name}": {len(rows)} of {total} models taken')
    for row in rows:
        click.echo(f"  {row.model_id:<12} {row.state:<9} {row.used_at:%Y-%m-%d %H:%M}")


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
    preset.created_by = preset.updated_by = cli_actor()
    db.session.add(preset)
    record(preset.created_by, "preset.create", f"preset {preset.name}")
    db.session.commit()
    click.echo(f'Created preset "{preset.name}" with id {preset.id}')


@presets_cli.command("list")
def presets_list():
    """List presets with their example counts and models used."""
    total = len(services().registry())
    counts = dict(
        db.session.execute(select(GalleryExample.preset_id, func.count()).group_by(GalleryExample.preset_id)).all()
    )
    for preset in db.session.scalars(select(Preset).order_by(Preset.name)):
        usage = usage_counts(preset.id)
        click.echo(
            f"{preset.id}  {preset.name:<32} {preset.provider:<16} examples={counts.get(preset.id, 0):<5} "
            f"models={usage['used'] + usage['reserved']}/{total}"
        )


@click.command("generate")
@with_appcontext
@click.argument("preset_ref", metavar="PRESET")
@click.option(
    "--examples-per-model", "-n", default=1, show_default=True, type=click.IntRange(1, MAX_EXAMPLES_PER_MODEL)
)
@click.option("--wait", is_flag=True, help="Wait for the job and show its progress.")
@click.option("--timeout", default=1800, show_default=True, help="Seconds to wait at most with --wait.")
def generate(preset_ref: str, examples_per_model: int, wait: bool, timeout: int):
    """Queue an example generation for PRESET (id or name)."""
    preset = find_preset(preset_ref)
    try:
        queued = request_generation(services(), preset.id, examples_per_model, created_by=cli_actor())
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
            data = job_json(services(), job_id)
            db.session.rollback()  # end the read: see the worker's next commit, and free SQLite's write lock
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
    click.echo(
        f"Job {job_id} {data['status']}: {data['done']} stored, {data['failed']} failed of {data['total']}"
        + (" (offline placeholders)" if data.get("offline") else "")
    )
    for item in data.get("items") or []:
        if item.get("state") == "failed":
            click.echo(f"  {item['modelId']} #{item['index']}: {item['error']}")
    return data["status"]


@users_cli.command("create")
@click.argument("email")
@click.password_option(help="The password (prompted twice when not given).")
def users_create(email: str, password: str):
    """Create an admin who signs in with EMAIL; the password is prompted."""
    try:
        user = create_user(email, password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created admin {user.email}. Sign in at /admin/login.")


@users_cli.command("set-password")
@click.argument("email")
@click.password_option(help="The new password (prompted twice when not given).")
def users_set_password(email: str, password: str):
    """Change the password of the admin EMAIL (signs out their other sessions)."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"No admin with the email {email!r}. See `flask --app wsgi users list`.")
    try:
        user.set_password(password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    ended = revoke_user_sessions(user.id)
    record(cli_actor(), "user.set-password", user.email, f"{ended} sessions ended")
    db.session.commit()
    click.echo(f"Password of {user.email} changed; {ended} sessions ended.")


@users_cli.command("disable")
@click.argument("email")
def users_disable(email: str):
    """Disable the admin EMAIL: they can no longer sign in, and every session of theirs ends now."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"No admin with the email {email!r}. See `flask --app wsgi users list`.")
    disable_user(user)
    ended = revoke_user_sessions(user.id)
    record(cli_actor(), "user.disable", user.email, f"{ended} sessions ended")
    db.session.commit()
    click.echo(f"Disabled {user.email}; {ended} sessions ended.")


@users_cli.command("list")
def users_list():
    """List the admins."""
    for user in db.session.scalars(select(User).order_by(User.email)):
        last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
        state = "  DISABLED" if user.disabled else ""
        click.echo(f"{user.email:<40} created {user.created_at:%Y-%m-%d}  last sign-in {last}{state}")


@tokens_cli.command("create")
@click.argument("name")
def tokens_create(name: str):
    """Create the API token NAME and print it (once: only its hash is stored)."""
    try:
        row, token = create_token(name, created_by=cli_actor())
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    record(cli_actor(), "token.create", f"token {row.name}")
    db.session.commit()
    click.echo(f"Created API token {row.name!r}. Send it as 'Authorization: Bearer <token>'; it is not shown again:")
    click.echo(token)


@tokens_cli.command("list")
def tokens_list():
    """List the named API tokens (never the tokens themselves)."""
    rows = all_tokens()
    if not rows:
        click.echo("No named API tokens (ADMIN_API_TOKEN from the environment is always accepted).")
    for row in rows:
        used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        click.echo(
            f"{row.name:<32} created {row.created_at:%Y-%m-%d} by {row.created_by or '?'}  last used {used}  {state}"
        )


@tokens_cli.command("revoke")
@click.argument("name")
def tokens_revoke(name: str):
    """Revoke the API token NAME: from now on it gets 401."""
    try:
        row = revoke_token(name)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    record(cli_actor(), "token.revoke", f"token {row.name}")
    db.session.commit()
    click.echo(f"Revoked API token {row.name!r}.")


def demo_admin_password() -> str:
    """Derived from SECRET_KEY, so running `demo` again prints the same password without storing it."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, b"pixelglow-demo-admin", hashlib.sha256).hexdigest()[:20]


def ensure_demo_admin() -> None:
    if services().settings.is_production:
        click.echo("Demo admin not created in production: use `flask --app wsgi users create EMAIL`.")
        return
    password = demo_admin_password()
    user = find_user(DEMO_ADMIN_EMAIL)
    if user is None:
        create_user(DEMO_ADMIN_EMAIL, password)
        db.session.commit()
        click.echo(f"Created demo admin: email {DEMO_ADMIN_EMAIL}  password {password}")
    elif user.check_password(password):
        click.echo(f"Demo admin exists: email {DEMO_ADMIN_EMAIL}  password {password}")
    else:
        click.echo(
            f"Demo admin {DEMO_ADMIN_EMAIL} exists with a changed password "
            f"(reset it with `flask --app wsgi users set-password {DEMO_ADMIN_EMAIL}`)."
        )


@click.command("demo")
@with_appcontext
def demo():
    """Create the demo preset and the demo admin (idempotent); used by the first-run command."""
    preset = db.session.scalar(select(Preset).where(Preset.name == DEMO_PRESET["name"]))
    if preset is None:
        preset = Preset()
        apply_preset_fields(preset, DEMO_PRESET, creating=True)
        db.session.add(preset)
        db.session.commit()
        click.echo(f'Created demo preset "{preset.name}" ({preset.id})')
    else:
        click.echo(f'Demo preset "{preset.name}" exists ({preset.id})')
    ensure_demo_admin()


jobs_cli = AppGroup("jobs", help="Generation jobs.")


@jobs_cli.command("prune")
@click.option(
    "--older-than",
    "days",
    required=True,
    type=click.IntRange(min=0),
    help="Remove finished jobs that ended more than DAYS days ago.",
)
def jobs_prune(days: int):
    """Delete old finished jobs and their items; their examples stay in the gallery."""
    cutoff = utcnow() - timedelta(days=days)
    old = select(Job.id).where(Job.status.in_(JOB_FINAL), Job.finished_at < cutoff)
    ids = list(db.session.scalars(old))
    if ids:
        db.session.execute(delete(JobItem).where(JobItem.job_id.in_(ids)))
        db.session.execute(update(PresetModelUsage).where(PresetModelUsage.job_id.in_(ids)).values(job_id=None))
        db.session.execute(update(GalleryExample).where(GalleryExample.job_id.in_(ids)).values(job_id=None))
        db.session.execute(delete(Job).where(Job.id.in_(ids)))
        db.session.commit()
    click.echo(f"Removed {len(ids)} finished jobs older than {days} days; gallery examples were kept.")


@providers_cli.command("schemas")
@click.option(
    "--refresh", is_flag=True, help="Fetch each model's current schema from Replicate and show the differences."
)
@click.option("--write", is_flag=True, help="With --refresh: update the snapshots that differ.")
def providers_schemas(refresh: bool, write: bool):
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
            click.echo(f'Preset "{preset.name}" has settings the new schema refuses: {settings_problem(preset)}')
    elif changed:
        click.echo("Run again with --write to update the snapshots.")
        sys.exit(1)


def refresh_schema(client, provider_name: str, write: bool) -> bool:
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


def init_app(app) -> None:
    for command in (usage_cli, models_cli, presets_cli, users_cli, tokens_cli, providers_cli, jobs_cli, generate, demo):
        app.cli.add_command(command)
