"""`flask --app wsgi models sync`: models.json rebuilt from the bucket's photos, shown as a diff, written with --write.

Registered into the `models` group by `app.cli.init_app`. See `app.pool.sync` for the rules.
"""

from __future__ import annotations

import click
from botocore.exceptions import BotoCoreError, ClientError
from flask.cli import with_appcontext

from app.cli.common import services
from app.core.s3_settings import BUCKET_NAME
from app.pool.registry import ReferenceModel, Registry, RegistryError, load_registry_file
from app.pool.sync import SyncPlan, list_photos, plan_sync, used_model_ids, write_registry
from app.storage.s3 import failure, s3_client

SHOWN = 20  # lines of each kind of change; the counts are always complete


@click.command("sync")
@with_appcontext  # AppGroup.command adds it; add_command does not
@click.option("--bucket", required=True, help="The bucket holding the photos.")
@click.option("--prefix", default="models/", show_default=True, help="Where male/ and female/ are in the bucket.")
@click.option("--url-base", help="What each photo's URL starts with [default: https://BUCKET.s3.REGION.amazonaws.com].")
@click.option("--write", is_flag=True, help="Write models.json (atomically); without it nothing is written.")
def models_sync(bucket: str, prefix: str, url_base: str | None, write: bool) -> None:
    """List the photos under PREFIX male/ and female/ and show how models.json would change."""
    if not BUCKET_NAME.match(bucket):
        raise click.BadParameter(f"{bucket!r} is not a bucket name", param_hint="--bucket")
    settings = services().settings
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    url_base = (url_base or settings.s3.public_url_base(bucket)).rstrip("/")
    try:
        photos = list_photos(s3_client(settings.s3), bucket, prefix, url_base)
    except (BotoCoreError, ClientError) as exc:
        raise click.ClickException(f"{failure('list', f's3://{bucket}/{prefix}', exc)}") from None
    if not photos:
        raise click.ClickException(
            f"No photos under s3://{bucket}/{prefix}male/ or {prefix}female/: check --bucket and --prefix "
            "(nothing written; an empty registry would retire or remove every model)."
        )
    path = settings.models_file
    try:
        current = load_registry_file(path) if path.exists() else Registry(male=(), female=())
        plan = plan_sync(current, photos, used_model_ids())
    except RegistryError as exc:
        raise click.ClickException(
            f"{exc} (fix it first: `flask --app wsgi models check` lists every problem)"
        ) from None
    males = sum(1 for photo in photos if photo.gender == "male")
    click.echo(f"s3://{bucket}/{prefix}: {males} male + {len(photos) - males} female photos")
    show_diff(plan)
    if not write:
        click.echo(f"Nothing written: run again with --write to write {path}.")
    elif not plan.differs:
        click.echo(f"{path} is up to date.")
    else:
        write_registry(path, plan.data)
        click.echo(f"Wrote {path} ({sum(len(models) for models in plan.data.values())} models).")


def changed_line(old: ReferenceModel, new: ReferenceModel) -> str:
    if old.s3_url == new.s3_url:
        return f"~ {old.id} is back in the bucket: no longer retired"
    return f"~ {old.id} {old.s3_url} -> {new.s3_url}"


def show_diff(plan: SyncPlan) -> None:
    def section(title: str, lines: list[str]) -> None:
        if lines:
            click.echo(f"{title} {len(lines)}:")
            for line in lines[:SHOWN]:
                click.echo(f"  {line}")
            if len(lines) > SHOWN:
                click.echo(f"  … and {len(lines) - SHOWN} more")

    section("added", [f"+ {m.id} {m.s3_url}" for m in plan.added])
    section("changed", [changed_line(old, new) for old, new in plan.changed])
    section(
        "retired", [f"! {m.id} (gone from the bucket, used by a preset: kept, never selected)" for m in plan.retired]
    )
    section("removed", [f"- {m.id} {m.s3_url} (gone from the bucket, never used)" for m in plan.removed])
    click.echo(f"unchanged {plan.unchanged}" + ("" if plan.differs else "; models.json already matches the bucket"))
