"""`flask --app wsgi jobs …`: generation jobs."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import delete, select, update

from app.core.database import db
from app.models import JOB_FINAL, GalleryExample, Job, JobItem, PresetModelUsage, utcnow

jobs_cli = AppGroup("jobs", help="Generation jobs.")


@jobs_cli.command("prune")
@click.option(
    "--older-than",
    "days",
    required=True,
    type=click.IntRange(min=0),
    help="Remove finished jobs that ended more than DAYS days ago.",
)
def jobs_prune(days: int) -> None:
    """Delete old finished jobs and their items; their examples stay in the gallery. A comparison's jobs are kept
    with it: its cells point at their items (state, error, cost)."""
    cutoff = utcnow() - timedelta(days=days)
    old = select(Job.id).where(Job.status.in_(JOB_FINAL), Job.finished_at < cutoff, Job.comparison_id.is_(None))
    ids = list(db.session.scalars(old))
    if ids:
        db.session.execute(delete(JobItem).where(JobItem.job_id.in_(ids)))
        db.session.execute(update(PresetModelUsage).where(PresetModelUsage.job_id.in_(ids)).values(job_id=None))
        db.session.execute(update(GalleryExample).where(GalleryExample.job_id.in_(ids)).values(job_id=None))
        db.session.execute(delete(Job).where(Job.id.in_(ids)))
        db.session.commit()
    click.echo(
        f"Removed {len(ids)} finished jobs older than {days} days; gallery examples and comparisons' jobs were kept."
    )
