"""`flask --app wsgi models cache`: copy the registry's reference photos into our storage, with thumbnails.

Registered into the `models` group by `app.cli.init_app`.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli.common import echo_step, named_some, services
from app.pool.reference_photos import CACHED, FAILED, SKIPPED, cache_references
from app.pool.registry import RegistryError


@click.command("cache")
@with_appcontext  # AppGroup.command adds it; add_command does not
@click.option("--force", is_flag=True, help="Download every photo again, even those already cached.")
@click.option("--workers", type=click.IntRange(1, 16), default=4, show_default=True, help="Downloads at once.")
def models_cache(force: bool, workers: int) -> None:
    """Download each model's photo from models.json into storage and make its thumbnail.

    Skips the models already cached, so an interrupted run can simply be started again."""
    app_services = services()
    try:
        registry = app_services.registry()
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    problem = app_services.registry_problem()  # broken since the start: cache what the file says, once fixed
    if problem is not None:
        raise click.ClickException(f"{problem} (fix models.json, then run `models cache` again)")
    counts = {CACHED: 0, SKIPPED: 0, FAILED: 0}
    failures: list[str] = []
    total = len(registry)
    results = cache_references(
        registry.all, app_services.storage, app_services.reference_downloader(), force=force, workers=workers
    )
    for done, result in enumerate(results, start=1):
        counts[result.outcome] += 1
        echo_step(done, total, result.model_id, result.outcome, result.detail, failed=result.outcome == FAILED)
        if result.outcome == FAILED:
            failures.append(result.model_id)
    click.echo(
        f"{total} models: {counts[CACHED]} cached now, {counts[SKIPPED]} already cached, {counts[FAILED]} failed."
    )
    if failures:
        raise click.ClickException(
            f"{len(failures)} of {total} photos could not be cached ({named_some(failures)}; the reasons are above). "
            "Their cards show a placeholder until then; run `flask --app wsgi models cache` again to retry them."
        )
