"""`flask --app wsgi media migrate --to s3`: copy the local media folder into the S3 bucket, resumable.

Added to the `media` group by `app.cli.init_app`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli.common import echo_step, named_some, services
from app.storage.base import StorageError
from app.storage.migrate import COPIED, FAILED, SKIPPED, migrate
from app.storage.s3 import S3Storage

NOT_CONFIGURED = (
    "S3 is not configured: set S3_BUCKET (with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION, and "
    "S3_ENDPOINT_URL for an S3-compatible store), then run `flask --app wsgi media migrate --to s3` again."
)


@click.command("migrate")
@with_appcontext  # AppGroup.command adds it; add_command does not
@click.option("--to", "target", type=click.Choice(["s3"]), required=True, help="Where to copy the media to.")
@click.option(
    "--workers",
    type=click.IntRange(1, 32),
    default=8,
    show_default=True,
    help="Files read and checked at once (uploads: 4 at once, the storage's own bound).",
)
def media_migrate(target: str, workers: int) -> None:
    """Copy every file under MEDIA_DIR into the bucket under the same key.

    Files the bucket already holds with the same size are skipped, so an interrupted run is simply started
    again. The local files stay; pages link to the bucket as soon as the app runs with S3_BUCKET set."""
    app_services = services()
    storage, root = app_services.storage, app_services.settings.media_dir
    if not isinstance(storage, S3Storage):
        raise click.ClickException(NOT_CONFIGURED)
    if not root.is_dir():
        click.echo(f"Nothing to copy: {root} (MEDIA_DIR) does not exist.")
        return
    try:
        total, copies = migrate(root, storage, workers=workers)
    except StorageError as exc:
        raise click.ClickException(f"{exc} (nothing was copied)") from None
    counts, sizes, failures = {COPIED: 0, SKIPPED: 0, FAILED: 0}, 0, []
    click.echo(f"{total} files in {root} -> s3://{storage.bucket}/")
    for done, copy in enumerate(copies, start=1):
        counts[copy.outcome] += 1
        if copy.outcome == COPIED:
            sizes += copy.size
        if copy.outcome != SKIPPED or done == total or done % 100 == 0:
            echo_step(done, total, copy.key, copy.outcome, copy.detail, failed=copy.outcome == FAILED)
        if copy.outcome == FAILED:
            failures.append(copy.key)
    click.echo(
        f"{total} files: {counts[COPIED]} copied ({sizes / 1e6:.1f} MB), {counts[SKIPPED]} already in the bucket, "
        f"{counts[FAILED]} failed."
    )
    if failures:
        raise click.ClickException(
            f"{len(failures)} of {total} files could not be copied ({named_some(failures)}; the reasons are above). "
            "Run the command again: what is already in the bucket is skipped."
        )
