"""`flask --app wsgi models check`: is models.json valid, is it enough, do its photos answer?

Exit codes: 1 when the file is broken, when `--urls` finds a photo that cannot be fetched, or, with
`--strict`, when there is any warning; 0 otherwise (warnings are printed).
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.cli.common import services
from app.cli.registry_urls import head_all
from app.jobs.submit import MODELS_PER_JOB
from app.pool.registry import GENDERS, Registry, RegistryError, load_registry_file

models_cli = AppGroup("models", help="The registry of reference models (models.json).")
PER_GENDER = MODELS_PER_JOB // 2  # a job takes 10 male + 10 female models


@models_cli.command("check")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too (uneven split, too few of a gender…).")
@click.option("--urls", is_flag=True, help="Ask every photo URL with HEAD; exit 1 if any cannot be fetched.")
@click.option("--workers", default=8, show_default=True, type=click.IntRange(1, 64), help="HEAD requests at once.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 300), help="Seconds per URL.")
def models_check(strict: bool, urls: bool, workers: int, timeout: float) -> None:
    """Check models.json now (the file, not what a running process keeps): every problem, then warnings."""
    path = services().settings.models_file
    try:
        registry = load_registry_file(path)
    except RegistryError as exc:
        click.echo(f"{path} is broken ({len(exc.problems)} problem{'s' * (len(exc.problems) != 1)}):", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    warnings = registry_warnings(registry)
    summary = f"{path.name}: {len(registry)} models ({len(registry.male)} male + {len(registry.female)} female)"
    click.echo(summary + (f", valid, {len(warnings)} warning(s)" if warnings else ", all valid"))
    for warning in warnings:
        click.echo(f"  warning: {warning}")
    failed, odd = check_urls(registry, workers, timeout) if urls else (0, 0)
    if failed or (strict and (warnings or odd)):
        sys.exit(1)


def registry_warnings(registry: Registry) -> list[str]:
    """What is valid but will hurt: a gender that runs out first, too few to fill a job, shared photos."""
    counts = {gender: len(registry.of_gender(gender)) for gender in GENDERS}
    warnings = []
    if counts["male"] != counts["female"]:
        short = min(GENDERS, key=lambda g: counts[g])
        warnings.append(
            f"uneven split: {counts['male']} male, {counts['female']} female; jobs take {PER_GENDER} of each, so "
            f"a preset runs out of {short} models after {counts[short] // PER_GENDER} full job(s)"
        )
    for gender in GENDERS:
        if counts[gender] < PER_GENDER:
            warnings.append(f"only {counts[gender]} {gender} models: a job takes {PER_GENDER}, so every job gets fewer")
    first_with: dict[str, str] = {}
    for model in registry.all:
        if model.s3_url in first_with:
            warnings.append(f"{model.id} has the same s3Url as {first_with[model.s3_url]}")
        first_with.setdefault(model.s3_url, model.id)
    return warnings


def check_urls(registry: Registry, workers: int, timeout: float) -> tuple[int, int]:
    """HEAD every photo; prints failures and warnings, returns how many of each."""
    answers = head_all(registry.all, workers, timeout)
    failures = [a for a in answers if a.failure]
    odd = [a for a in answers if a.warning]
    click.echo(
        f"HEAD {len(answers)} URLs ({workers} at a time, {timeout:g} s timeout): "
        f"{len(answers) - len(failures)} answered, {len(failures)} failed"
    )
    for answer in failures:
        click.echo(f"  failed: {answer.model.id} {answer.model.s3_url}: {answer.failure}")
    for answer in odd:
        click.echo(f"  warning: {answer.model.id} {answer.model.s3_url}: {answer.warning}")
    return len(failures), len(odd)
