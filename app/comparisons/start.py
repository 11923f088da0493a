"""Starting a comparison: check its variants against the preset and the providers, pick its reference models, and
create one job per variant (items and cells) under the preset's lock and the month's budget, then queue the jobs.

A comparison's jobs run like any job (the create limit, the read budget, the ledger, recovery) but write cells,
not gallery rows, and reserve no model (app.jobs.writes): the preset's gallery and usage stay as they are."""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError

from app.accounts.audit import record
from app.comparisons.request import ComparisonRequest, VariantRequest, label
from app.core.database import db
from app.core.errors import AppError, GenerationError, PresetError
from app.jobs.needs import JobServices
from app.jobs.submit import database_unavailable, refuse_unrunnable
from app.models import Comparison, ComparisonCell, ComparisonVariant, Job, JobItem, JobStatus, Preset
from app.pool.registry import ReferenceModel, Registry
from app.pool.selection import lock_preset
from app.presets.rules import apply_preset_fields
from app.spend import ledger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Variant:
    """A variant as it will run: what its job copies."""

    provider: str
    settings: dict
    prompt: str
    is_current: bool

    @property
    def same_as(self) -> tuple[str, str, str]:
        return self.provider, json.dumps(self.settings, sort_keys=True), self.prompt


def start_comparison(
    services: JobServices,
    preset_id: str,
    request: ComparisonRequest,
    actor: str | None,
    rng: random.Random | None = None,
) -> Comparison:
    """Create the comparison with its jobs, commit, queue them; an AppError (400, 404, 409 over the budget, 503)
    leaves nothing behind."""
    try:
        comparison = create_comparison(services, preset_id, request, actor, rng or random.Random())
        comparison_id, preset_name = comparison.id, comparison.preset.name
        job_ids = [v.job_id for v in comparison.variants if v.job_id]
        model_ids = list(dict.fromkeys(c.model_id for c in sorted(comparison.cells, key=lambda c: c.item_id or 0)))
        db.session.commit()
    except AppError:
        db.session.rollback()
        raise
    except OperationalError as exc:
        db.session.rollback()
        raise database_unavailable(exc, "starting a comparison") from None
    try:
        for job_id in job_ids:
            services.enqueue_job(job_id)
    except Exception as exc:
        log.warning("could not queue comparison %s: %s", comparison_id, exc)
        discard(comparison_id)
        raise GenerationError(
            "The job queue (Redis) is unavailable right now; nothing was queued. Try again shortly.", 503
        ) from None
    record_start(comparison, preset_name, model_ids, actor)
    return comparison


def create_comparison(
    services: JobServices, preset_id: str, request: ComparisonRequest, actor: str | None, rng: random.Random
) -> Comparison:
    """The comparison, its variants, jobs, items and cells, flushed under the preset's lock (not committed)."""
    preset = lock_preset(preset_id)
    if preset is None:
        raise GenerationError(f"No preset with id {preset_id!r}.", 404)
    variants = [resolve_variant(preset, v, n) for n, v in enumerate(request.variants)]
    refuse_repeats(variants)
    models = pick_models(services.registry(), request, rng)
    comparison = Comparison(preset_id=preset.id, created_by=(actor or "")[:200] or None)
    db.session.add(comparison)
    db.session.flush()
    jobs = [add_variant(services, comparison, preset, variant, n, models) for n, variant in enumerate(variants)]
    ledger.reserve_all(services.settings, [(job, len(models)) for job in jobs], "this comparison")
    return comparison


def record_start(comparison: Comparison, preset_name: str, model_ids: list[str], actor: str | None) -> None:
    """The activity log's entry, once every job is queued (committed here)."""
    described = "; ".join(
        f"{v.label}: {v.provider}" + (" (the preset as it is)" if v.is_current else "") for v in comparison.variants
    )
    record(
        actor,
        "comparison.create",
        f"preset {preset_name}",
        f"{len(comparison.variants)} variants ({described}) x {len(model_ids)} models ({', '.join(model_ids)})",
        preset_id=comparison.preset_id,
        subjects=[comparison.id],
    )
    db.session.commit()


def resolve_variant(preset: Preset, wanted: VariantRequest, position: int) -> Variant:
    """The provider, settings and prompt a variant runs, checked by the preset's own rules (a retired or turned-off
    provider, settings its model refuses, a prompt too long: a 400 or 409 naming the variant)."""
    if wanted.current:
        try:
            refuse_unrunnable(preset)
        except GenerationError as exc:
            raise GenerationError(
                f"Variant {label(position)} (the preset as it is): {exc.message}", exc.status
            ) from None
        return Variant(preset.provider, dict(preset.settings or {}), preset.prompt, True)
    scratch = Preset(
        name=preset.name, prompt=preset.prompt, provider=preset.provider, settings=dict(preset.settings or {})
    )
    fields: dict = {"provider": wanted.provider, "settings": wanted.settings}
    if wanted.prompt is not None:
        fields["prompt"] = wanted.prompt
    try:
        apply_preset_fields(scratch, fields, creating=False)
    except PresetError as exc:
        raise GenerationError(f"Variant {label(position)}: {exc.message}", exc.status) from None
    settings = dict(scratch.settings or {})
    current = (scratch.provider, settings, scratch.prompt) == (
        preset.provider,
        dict(preset.settings or {}),
        preset.prompt,
    )
    return Variant(scratch.provider, settings, scratch.prompt, current)


def refuse_repeats(variants: list[Variant]) -> None:
    seen: dict[tuple[str, str, str], int] = {}
    for n, variant in enumerate(variants):
        if variant.same_as in seen:
            first = label(seen[variant.same_as])
            raise GenerationError(
                f"Variants {first} and {label(n)} are the same (provider, settings and prompt); "
                "change one or leave it out."
            )
        seen[variant.same_as] = n


def pick_models(registry: Registry, request: ComparisonRequest, rng: random.Random) -> list[ReferenceModel]:
    """The admin's models, or `counts` at random from the whole pool, used by the preset or not (a comparison
    reserves none). Retired models (their photo is gone) are never chosen."""
    if request.model_ids is not None:
        problems: list[str] = []
        models: list[ReferenceModel] = []
        for model_id in request.model_ids:
            model = registry.get(model_id)
            if model_id in [m.id for m in models]:
                problems.append(f"{model_id!r}: named more than once")
            elif model is None:
                problems.append(f"{model_id!r}: not a reference model of models.json")
            elif model.retired:
                problems.append(f"{model_id!r}: retired (its photo is gone from the bucket)")
            else:
                models.append(model)
        if problems:
            raise GenerationError(f"These models cannot be compared on ({len(problems)}): " + "; ".join(problems) + ".")
        return models
    drawn: list[ReferenceModel] = []
    for gender, count in request.counts.items():
        pool = registry.selectable(gender)
        if count > len(pool):
            raise GenerationError(f"models.{gender} asks for {count} models; the pool has {len(pool)} {gender} models.")
        drawn.extend(rng.sample(list(pool), count))
    return drawn


def add_variant(
    services: JobServices,
    comparison: Comparison,
    preset: Preset,
    variant: Variant,
    position: int,
    models: list[ReferenceModel],
) -> Job:
    """One column: the variant, its job (one item per model) and a cell per item (flushed)."""
    job = Job(
        preset_id=preset.id,
        comparison_id=comparison.id,
        examples_per_model=1,
        prompt=variant.prompt,
        provider=variant.provider,
        settings=variant.settings,
        offline=services.settings.offline,
        status=JobStatus.QUEUED,
        created_by=comparison.created_by,
        total=len(models),
    )
    db.session.add(job)
    db.session.flush()
    row = ComparisonVariant(
        comparison_id=comparison.id,
        position=position,
        provider=variant.provider,
        settings=variant.settings,
        prompt=variant.prompt,
        is_current=variant.is_current,
        job_id=job.id,
    )
    items = [JobItem(job_id=job.id, model_id=m.id, gender=m.gender, reference_url=m.s3_url) for m in models]
    db.session.add(row)
    db.session.add_all(items)
    db.session.flush()
    db.session.add_all(
        ComparisonCell(
            comparison_id=comparison.id,
            variant_id=row.id,
            item_id=item.id,
            model_id=item.model_id,
            gender=item.gender,
            reference_url=item.reference_url,
        )
        for item in items
    )
    return job


def discard(comparison_id: str) -> None:
    """Remove a comparison whose jobs could not all be queued (a queued one finds its job gone and stops)."""
    db.session.rollback()
    jobs = select(Job.id).where(Job.comparison_id == comparison_id)
    db.session.execute(delete(ComparisonCell).where(ComparisonCell.comparison_id == comparison_id))
    db.session.execute(delete(ComparisonVariant).where(ComparisonVariant.comparison_id == comparison_id))
    db.session.execute(delete(JobItem).where(JobItem.job_id.in_(jobs)))
    db.session.execute(delete(Job).where(Job.comparison_id == comparison_id))
    db.session.execute(delete(Comparison).where(Comparison.id == comparison_id))
    db.session.commit()
