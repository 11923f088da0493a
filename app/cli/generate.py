"""`flask --app wsgi generate PRESET`: queue an example generation (or `--regenerate` one example), optionally
waiting for it."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click
from flask.cli import with_appcontext

from app.cli.common import cli_actor, find_preset, printable, services
from app.core.database import db
from app.jobs.reading import job_json
from app.jobs.regenerate import regeneration_message, request_regeneration
from app.jobs.submit import MAX_EXAMPLES_PER_MODEL, GenerationError, parse_model_ids, request_generation
from app.services import CONSUMER_COMMAND

F = TypeVar("F", bound=Callable[..., Any])
PICKUP_NOTICE_SECONDS = 10.0  # a queued job no consumer took by then: say why it waits, and how to start one


def wait_options(wait_help: str, what: str) -> Callable[[F], F]:
    """--wait, --timeout and --notice-after, as `generate` and `compare` take them (`what`: "the job")."""

    def decorate(command: F) -> F:
        notice = f"With --wait: seconds before saying that no consumer has picked {what} up (it keeps waiting)."
        command = click.option(
            "--notice-after", default=PICKUP_NOTICE_SECONDS, show_default=True, type=click.FloatRange(0), help=notice
        )(command)
        command = click.option(
            "--timeout", default=1800, show_default=True, help="Seconds to wait at most with --wait."
        )(command)
        return click.option("--wait", is_flag=True, help=wait_help)(command)

    return decorate


@click.command("generate")
@with_appcontext
@click.argument("preset_ref", metavar="PRESET")
@click.option(
    "--examples-per-model", "-n", default=1, show_default=True, type=click.IntRange(1, MAX_EXAMPLES_PER_MODEL)
)
@click.option(
    "--models",
    "model_list",
    metavar="IDS",
    help="Comma-separated model ids to use instead of 10 + 10 at random (each must be free).",
)
@click.option(
    "--regenerate",
    "example_id",
    metavar="EXAMPLE",
    help="Make one new example for this example's model and index with the preset's current prompt and settings "
    "(the old one stays).",
)
@wait_options("Wait for the job and show its progress.", "the job")
def generate(
    preset_ref: str,
    examples_per_model: int,
    model_list: str | None,
    example_id: str | None,
    wait: bool,
    timeout: int,
    notice_after: float,
) -> None:
    """Queue an example generation for PRESET (id or name)."""
    preset = find_preset(preset_ref)
    if example_id is not None and (model_list is not None or examples_per_model != 1):
        raise click.UsageError("--regenerate makes one example: leave out --models and --examples-per-model.")
    try:
        if example_id is not None:
            queued = request_regeneration(services(), preset.id, example_id, created_by=cli_actor())
        else:
            model_ids = parse_model_ids([m.strip() for m in model_list.split(",")]) if model_list is not None else None
            queued = request_generation(
                services(), preset.id, examples_per_model, model_ids=model_ids, created_by=cli_actor()
            )
    except GenerationError as exc:
        raise click.ClickException(printable(exc.message)) from None  # messages name the preset
    if example_id is not None:
        click.echo(printable(regeneration_message(queued)))
    else:
        click.echo(printable(f"{queued.message}: job {queued.job.id}, {queued.job.total} images"))
    if queued.selection.warning:
        click.echo(f"Warning: {queued.selection.warning}")
    if not wait:
        return
    status = wait_for_job(queued.job.id, queued.job.total, timeout, notice_after)
    if status not in ("succeeded",):
        sys.exit(1)


def wait_for_job(job_id: str, total: int, timeout: int, notice_after: float = PICKUP_NOTICE_SECONDS) -> str:
    """Show the job's progress until it ends; exit 1 after `timeout` (the job goes on). A job still queued
    after `notice_after` seconds gets one notice saying so, and how to start a consumer; the wait goes on."""
    started = time.monotonic()
    deadline = started + timeout
    shown = 0
    data = None
    noticed = False
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
            if data["status"] == "queued" and not noticed and time.monotonic() - started >= notice_after:
                click.echo("\n" + not_picked_up(job_id, time.monotonic() - started), err=True)
                noticed = True
            until_notice = started + notice_after - time.monotonic()
            time.sleep(0.5 if noticed or until_notice <= 0 else min(0.5, until_notice))
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


def not_picked_up(job_id: str, waited: float) -> str:
    """Why the job still waits: no consumer at all (and how to start one), or all of them busy."""
    try:
        alive = services().progress.alive()
    except Exception:  # the notice must not end the wait: say what is known
        alive = None
    if alive:
        why = f"{len(alive)} consumer(s) alive, busy with jobs queued before it"
    else:
        why = "no consumer is running" if alive is not None else "the consumers' heartbeats cannot be read"
    return (
        f"No consumer has picked up job {job_id} after {waited:.0f} s: {why}. Start one from the project folder, "
        f"with the same environment: {CONSUMER_COMMAND}\n"
        "Still waiting (Ctrl-C stops waiting; the job stays queued and runs when a consumer starts)."
    )
