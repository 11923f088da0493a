"""`flask --app wsgi media …`: stored images. `media thumbnails` makes the sizes older examples lack."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import services
from app.gallery.example_sizes import FAILED, GONE, MADE, BackfillResult, backfill_sizes, count_without_sizes

media_cli = AppGroup("media", help="Stored images (MEDIA_DIR or the S3 bucket): the examples' sizes, the move to S3.")

SHOWN_FAILURES = 20


@media_cli.command("thumbnails")
def media_thumbnails() -> None:
    """Make the thumbnail and medium size of every example stored without them (before sizes existed, or
    whose resize failed). Resumable: only examples without sizes are done, so a second run does nothing."""
    total = count_without_sizes()
    if not total:
        click.echo("Every example has its thumbnail and medium size: nothing to do.")
        return
    counts = {MADE: 0, FAILED: 0, GONE: 0}
    failures: list[BackfillResult] = []
    results = backfill_sizes(services().storage)
    with click.progressbar(results, length=total, label=f"Sizing {total:,} examples", show_pos=True) as bar:
        for result in bar:
            counts[result.outcome] += 1
            if result.outcome == FAILED:
                failures.append(result)
    gone = f", {counts[GONE]} deleted meanwhile" if counts[GONE] else ""
    click.echo(f"{total:,} examples without sizes: {counts[MADE]:,} made, {counts[FAILED]:,} failed{gone}.")
    if failures:
        for failure in failures[:SHOWN_FAILURES]:
            click.echo(f"  example {failure.example_id} ({failure.image_path}): {failure.detail}", err=True)
        if len(failures) > SHOWN_FAILURES:
            click.echo(f"  … and {len(failures) - SHOWN_FAILURES} more", err=True)
        raise click.ClickException(
            f"{len(failures)} example(s) still have no sizes (listed above); their cards show the original. Fix "
            "the cause and run `flask --app wsgi media thumbnails` again: it retries only those."
        )
