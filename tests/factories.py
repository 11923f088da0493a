"""Builders for the rows a test needs, one way each: a preset row, a user row, examples (of given models, or in
given curation states), a finished example, a job with items, a running job's reservations, used models, a finished
comparison and a vote on it.
Presets made through the API, admins and API tokens come from conftest's `create_preset`, `create_admin` and
`auth_headers`; these builders write rows straight to the database, for rows the API would refuse today or cannot
make yet. Bulk seeds for analytics and benchmarks stay in their own modules."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from app.accounts.users import User
from app.core.database import db
from app.models import (
    Comparison,
    ComparisonCell,
    ComparisonVariant,
    ComparisonVote,
    GalleryExample,
    Job,
    JobItem,
    Preset,
    PresetModelUsage,
    SpendEntry,
    utcnow,
)

T0 = datetime(2026, 11, 1, 12, 0, 0)


def seed(app, preset_id, states, *, positions=None, same_time_every=1, job_id=None) -> list[str]:
    """One example per entry of `states` (model ids cycle through male/female 1–36), created one second
    apart (or `same_time_every` at the same instant, to exercise the id tie-break); returns their ids."""
    ids = []
    with app.app_context():
        for n, state in enumerate(states):
            gender = "male" if n % 2 == 0 else "female"
            example = GalleryExample(
                preset_id=preset_id,
                job_id=job_id,
                model_id=f"{gender}_{(n // 2) % 36 + 1:02d}",
                gender=gender,
                example_index=n // 72,
                provider="NANO_BANANA" if n % 3 else "FLUX_PRO",
                prompt="p",
                image_path=f"examples/{preset_id}/{n}.png",
                created_at=T0 + timedelta(seconds=n // same_time_every),
                state=state,
                position=None if positions is None else positions[n],
            )
            db.session.add(example)
            db.session.flush()
            ids.append(example.id)
        db.session.commit()
    return ids


def reserve_for_running_job(app, preset_id, model_ids) -> str:
    """A job that has not ended, holding `model_ids` (as a running job's reservations look)."""
    with app.app_context():
        job = Job(preset_id=preset_id, prompt="p", provider="NANO_BANANA", status="running", total=len(model_ids))
        db.session.add(job)
        db.session.flush()
        db.session.add_all(
            PresetModelUsage(preset_id=preset_id, model_id=m, state="reserved", job_id=job.id) for m in model_ids
        )
        db.session.commit()
        return job.id


def mark_used(app, preset_id, model_ids) -> None:
    with app.app_context():
        db.session.add_all(PresetModelUsage(preset_id=preset_id, model_id=m, state="used") for m in model_ids)
        db.session.commit()


def stored_example(app, preset_id: str, model_id: str) -> str:
    """An example of a finished job, its model used (as a job leaves them); returns its id."""
    mark_used(app, preset_id, [model_id])
    with app.app_context():
        job = Job(preset_id=preset_id, prompt="p", provider="NANO_BANANA", status="succeeded", total=1, done=1)
        db.session.add(job)
        db.session.flush()
        gender = model_id.split("_")[0]
        example = GalleryExample(
            preset_id=preset_id, job_id=job.id, model_id=model_id, gender=gender, provider="NANO_BANANA",
            prompt="p", image_path=f"examples/{model_id}.png",
        )  # fmt: skip
        db.session.add(example)
        db.session.commit()
        return example.id


def job(app, preset_id, *, status="succeeded", items=(), prompt="p", **fields) -> str:
    """A NANO_BANANA job of the preset with one item per model id in `items` (items in their default state), any
    other column given by keyword; returns its id."""
    with app.app_context():
        row = Job(preset_id=preset_id, prompt=prompt, provider="NANO_BANANA", status=status, **fields)
        if items:
            row.total = len(items)
        db.session.add(row)
        db.session.flush()
        db.session.add_all(JobItem(job_id=row.id, model_id=m, gender=m.split("_")[0], reference_url="x") for m in items)
        db.session.commit()
        return row.id


def preset(app, name="Professional Headshot", *, provider="NANO_BANANA", prompt="p", settings=None) -> str:
    """A preset row as it is stored, unchecked (a name or settings the API would refuse now); returns its id."""
    with app.app_context():
        row = Preset(name=name, prompt=prompt, provider=provider, settings=settings or {})
        db.session.add(row)
        db.session.commit()
        return row.id


def user(app, email: str, password_hash: str) -> str:
    """An admin row with the given password hash (as older versions of `users create` stored it, or one hashed at
    the tests' cost); returns its id."""
    with app.app_context():
        row = User(email=email, password_hash=password_hash)
        db.session.add(row)
        db.session.flush()
        user_id = row.id
        db.session.commit()
        return user_id


def examples(
    app,
    preset_id: str,
    model_ids: Iterable[str],
    *,
    job_id: str | None = None,
    apart: timedelta = timedelta(seconds=1),
    each: Callable[[int, str], dict] | None = None,
    **fields,
) -> list[str]:
    """One example per model id, the first the newest (each `apart` older than the one before, from now); any column
    given by keyword for every row, or per row by `each(n, model_id)`; returns their ids, newest first."""
    with app.app_context():
        now = utcnow()
        rows = []
        for n, model_id in enumerate(model_ids):
            values = dict(
                preset_id=preset_id,
                job_id=job_id,
                model_id=model_id,
                gender=model_id.split("_")[0],
                example_index=0,
                provider="NANO_BANANA",
                prompt="p",
                image_path=f"examples/{preset_id}/{job_id}/{model_id}-0.png",
                created_at=now - n * apart,
            )
            values.update(fields)
            values.update(each(n, model_id) if each else {})
            rows.append(GalleryExample(**values))
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def comparison(
    app, preset_id: str, variants: list[tuple[str, dict, str, bool]], model_ids: list[str], *, by: str | None = None
) -> tuple[str, dict[str, str]]:
    """A finished comparison as its jobs leave it, without running them: per variant (provider, settings, prompt,
    is_current) a succeeded job with one item per model, a cell with its output's path and time, and the ledger's
    entry tagged to the comparison ($0.039 each). Returns its id and each cell's image path (the caller stores the
    bytes)."""
    with app.app_context():
        row = Comparison(preset_id=preset_id, created_by=by)
        db.session.add(row)
        db.session.flush()
        paths: dict[str, str] = {}
        for position, (provider, settings, prompt, is_current) in enumerate(variants):
            job = Job(
                preset_id=preset_id, comparison_id=row.id, prompt=prompt, provider=provider, settings=settings,
                status="succeeded", total=len(model_ids), done=len(model_ids), created_by=by,
            )  # fmt: skip
            db.session.add(job)
            db.session.flush()
            variant = ComparisonVariant(
                comparison_id=row.id, position=position, provider=provider, settings=settings, prompt=prompt,
                is_current=is_current, job_id=job.id,
            )  # fmt: skip
            db.session.add(variant)
            db.session.flush()
            for n, model_id in enumerate(model_ids):
                seconds = 4.0 + position * 2.5 + n * 0.7
                item = JobItem(
                    job_id=job.id, model_id=model_id, gender=model_id.split("_")[0], reference_url="x",
                    state="succeeded", prediction_seconds=seconds,
                )  # fmt: skip
                db.session.add(item)
                db.session.flush()
                cell = ComparisonCell(
                    comparison_id=row.id, variant_id=variant.id, item_id=item.id, model_id=model_id,
                    gender=item.gender, reference_url="x", prediction_seconds=seconds,
                )  # fmt: skip
                db.session.add(cell)
                db.session.flush()
                cell.image_path = paths[cell.id] = f"comparisons/{row.id}/{cell.id}.png"
                db.session.add(
                    SpendEntry(
                        month=utcnow().strftime("%Y-%m"), job_id=job.id, preset_id=preset_id, item_id=item.id,
                        model_id=model_id, provider=provider, basis="image", amount=Decimal("0.039"),
                        comparison_id=row.id,
                    )
                )  # fmt: skip
        db.session.commit()
        return row.id, paths


def vote(app, comparison_id: str, model_id: str, verdict: str = "left", voter: str = "admin") -> int:
    """A vote on the first two cells the comparison made for `model_id` (two variants' outputs); returns its id."""
    with app.app_context():
        left, right = db.session.scalars(
            select(ComparisonCell).where(
                ComparisonCell.comparison_id == comparison_id, ComparisonCell.model_id == model_id
            )
        ).all()[:2]
        row = ComparisonVote(
            comparison_id=comparison_id, left_cell_id=left.id, right_cell_id=right.id, verdict=verdict, voter=voter
        )
        db.session.add(row)
        db.session.commit()
        return row.id
