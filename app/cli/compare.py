"""`flask --app wsgi compare PRESET --variant SPEC …`: start a comparison of 2-4 variants of a preset (the same
request the JSON API takes), optionally waiting for it and printing each column's totals.

A variant is `current` (the preset as it is now) or `PROVIDER[:key=value,key=value,…]`: the key `prompt` sets the
variant's own prompt, any other key is one of the model's settings, read as the setting's type (`true`, `28`,
`0.5`; text otherwise). A value holding a comma is quoted: `NANO_BANANA:prompt="Soft light, plain backdrop"`.
"""

from __future__ import annotations

import shlex
import sys
import time

import click
from flask.cli import with_appcontext

from app import provider_rows
from app.cli.common import cli_actor, find_preset, printable, services
from app.cli.generate import PICKUP_NOTICE_SECONDS, not_picked_up, wait_options
from app.comparisons.reading import Grid, get_comparison, read_grid, totals
from app.comparisons.request import MAX_VARIANTS, MIN_VARIANTS, parse_comparison_request
from app.comparisons.start import start_comparison
from app.core.database import db
from app.core.errors import AppError
from app.models import ComparisonVariant, ItemState
from app.presets.rules import typed_form_value
from app.spend.ledger import money

SPEC_HELP = (
    "`current` (the preset as it is now) or PROVIDER[:key=value,…]; the key `prompt` sets the variant's prompt, "
    'the others are the model\'s settings; quote a value holding a comma (prompt="a, b"). Give 2 to 4.'
)
PROMPT_SHOWN = 60  # characters of a variant's prompt in the summary


def parse_variant_spec(spec: str) -> dict:
    """One --variant as the JSON API's variant object; a click.BadParameter (exit 2) names what is wrong."""
    text = spec.strip()
    if text.lower() == "current":
        return {"current": True}
    provider, _, rest = text.partition(":")
    provider = provider.strip()
    if not provider or not provider.replace("_", "").isalnum():
        raise click.BadParameter(f"{spec!r}: start with `current` or a provider key such as NANO_BANANA.")
    variant: dict = {"provider": provider, "settings": {}}
    found = provider_rows.find(provider)
    kinds = {key: field.type for key, field in found.settings.items()} if found else {}
    for pair in split_pairs(spec, rest):
        key, equals, value = pair.partition("=")
        key = key.strip()
        if not key or not equals:
            raise click.BadParameter(f"{spec!r}: {pair!r} is not key=value.")
        if key == "prompt":
            variant["prompt"] = value
        elif key in variant["settings"]:
            raise click.BadParameter(f"{spec!r}: {key} is given twice.")
        else:
            variant["settings"][key] = typed_form_value(kinds.get(key, "string"), value.strip())
    return variant


def split_pairs(spec: str, rest: str) -> list[str]:
    """`a=1,b="x, y"` → ['a=1', 'b=x, y']: commas split, quotes keep a comma (and are removed), nothing else."""
    lexer = shlex.shlex(rest, posix=True)
    lexer.whitespace, lexer.whitespace_split, lexer.commenters = ",", True, ""
    try:
        return [pair for pair in lexer if pair.strip()]
    except ValueError as exc:  # an unclosed quote
        raise click.BadParameter(f"{spec!r}: {exc}.") from None


def request_body(variants: tuple[str, ...], model_list: str | None, male: int | None, female: int | None) -> dict:
    """The JSON API's body from the options (a click.UsageError for a combination that cannot be asked for)."""
    if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        raise click.UsageError(f"Give {MIN_VARIANTS} to {MAX_VARIANTS} --variant options; got {len(variants)}.")
    body: dict = {"variants": [parse_variant_spec(v) for v in variants]}
    if model_list is not None:
        if male is not None or female is not None:
            raise click.UsageError("Give either --models (chosen models) or --male/--female (how many), not both.")
        body["modelIds"] = [m.strip() for m in model_list.split(",") if m.strip()]
    elif male is not None or female is not None:
        body["models"] = {"male": 2 if male is None else male, "female": 2 if female is None else female}
    return body


@click.command("compare")
@with_appcontext
@click.argument("preset_ref", metavar="PRESET")
@click.option("--variant", "variants", multiple=True, metavar="SPEC", help=SPEC_HELP)
@click.option("--models", "model_list", metavar="IDS", help="Comma-separated reference models, e.g. male_01,female_03.")
@click.option("--male", type=click.IntRange(0), help="Male models drawn at random (default 2; not with --models).")
@click.option("--female", type=click.IntRange(0), help="Female models drawn at random (default 2; not with --models).")
@wait_options("Wait until the comparison has ended and print each column's totals.", "the comparison")
def compare(
    preset_ref: str,
    variants: tuple[str, ...],
    model_list: str | None,
    male: int | None,
    female: int | None,
    wait: bool,
    timeout: int,
    notice_after: float,
) -> None:
    """Compare PRESET (id or name) on 2-4 variants over a few reference models (default 2 male + 2 female)."""
    body = request_body(variants, model_list, male, female)
    preset = find_preset(preset_ref)
    try:
        comparison = start_comparison(services(), preset.id, parse_comparison_request(body), cli_actor())
    except AppError as exc:
        raise click.ClickException(printable(exc.message)) from None
    grid = read_grid(comparison)
    show_started(grid, preset.name)
    if not wait:
        return
    ended = wait_for_comparison(comparison.id, timeout, notice_after)
    show_totals(ended)
    if ended.status == "canceled" or not any(c.state == ItemState.SUCCEEDED for c in ended.cells):
        sys.exit(1)


def shortened(text: str, length: int = PROMPT_SHOWN) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def describe(variant: ComparisonVariant) -> str:
    current = " (the preset as it is)" if variant.is_current else ""
    settings = ", ".join(f"{k}={v}" for k, v in sorted((variant.settings or {}).items())) or "defaults"
    return f"  {variant.label}: {variant.provider}{current}; settings {settings}; prompt {shortened(variant.prompt)!r}"


def show_started(grid: Grid, preset_name: str) -> None:
    comparison = grid.comparison
    click.echo(
        printable(
            f'Comparison {comparison.id} queued on preset "{preset_name}": '
            f"{len(grid.variants)} variants x {len(grid.model_ids)} models."
        )
    )
    for variant in grid.variants:
        click.echo(printable(describe(variant)))
    click.echo(f"Models: {', '.join(grid.model_ids)}")
    click.echo(f"Admin page: /admin/comparisons/{comparison.id}")


def wait_for_comparison(comparison_id: str, timeout: int, notice_after: float = PICKUP_NOTICE_SECONDS) -> Grid:
    """Poll the database until the comparison has ended (its jobs run in a consumer); a line each time more cells
    have ended. A ClickException (exit 1) after `timeout`: the comparison goes on."""
    started = time.monotonic()
    shown, noticed = -1, False
    while time.monotonic() - started < timeout:
        db.session.expire_all()
        comparison = get_comparison(comparison_id)
        if comparison is None:
            raise click.ClickException(f"Comparison {comparison_id} disappeared (was its preset deleted?).")
        grid = read_grid(comparison)
        db.session.rollback()  # end the read: see the worker's next commit, and free SQLite's write lock
        ended = sum(1 for c in grid.cells if c.state not in (ItemState.PENDING, ItemState.PROCESSING))
        if ended != shown:
            click.echo(f"[{ended:>{len(str(len(grid.cells)))}}/{len(grid.cells)}] cells ended ({grid.status})")
            shown = ended
        if not grid.is_live:
            return grid
        if grid.status == "queued" and not noticed and time.monotonic() - started >= notice_after:
            first = next((v.job_id for v in grid.variants if v.job_id), comparison_id)
            click.echo(not_picked_up(first, time.monotonic() - started), err=True)
            noticed = True
        time.sleep(0.5)
    raise click.ClickException(
        f"Comparison {comparison_id} did not end within {timeout} s; it goes on in the background."
    )


def show_totals(grid: Grid) -> None:
    """Each column's success rate, median and p95 time to result, cost per image and a 20-model job's cost."""
    click.echo(f"Comparison {grid.comparison.id} {grid.status}:")
    for variant in grid.variants:
        column = totals(grid.column(variant.id))
        rate = "—" if column.success_rate is None else f"{column.success_rate * 100:.1f} %"
        median = "—" if column.median_seconds is None else f"{column.median_seconds:.1f} s"
        p95 = "—" if column.p95_seconds is None else f"{column.p95_seconds:.1f} s"
        per_image = "—" if column.cost_per_image is None else money(column.cost_per_image)
        job = "—" if column.cost_of_job is None else money(column.cost_of_job)
        canceled = sum(1 for c in grid.column(variant.id) if c.state == ItemState.CANCELED)
        click.echo(
            printable(
                f"  {variant.label} {variant.provider}: {column.succeeded}/{column.ended} succeeded ({rate})"
                + (f", {canceled} canceled" if canceled else "")
                + f", median {median}, p95 {p95}, {per_image} per image, {job} for a 20-model job"
            )
        )
        for cell in grid.column(variant.id):
            if cell.state == ItemState.FAILED:
                click.echo(printable(f"    {cell.cell.model_id}: {cell.error or 'failed'}"))
    click.echo(f"Cost: {money(grid.cost)}")
