"""Presets: the list, create / edit / delete, and the preset page (gallery, model pool, generate form).

The page's live parts (gallery pages, the generate form's route) are in `views_gallery`, on this blueprint.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, cast

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, bindparam, func, select

from app import provider_rows
from app.core.database import db
from app.core.errors import CurationError, PresetError
from app.gallery.query import GalleryQuery, parse_gallery_query
from app.jobs.submit import MAX_EXAMPLES_PER_MODEL
from app.models import JOB_LIVE, Comparison, GalleryExample, Job, Preset, PresetModelUsage, live_job_id_column
from app.presets import service as preset_service
from app.presets.rules import fields_from_form, provider_problem, settings_problem
from app.providers.catalog import DEFAULT_PROVIDER
from app.services import CONSUMER_COMMAND
from app.spend import ledger
from app.web.admin.common import (
    fragment,
    gallery_count,
    get_preset,
    is_htmx,
    model_pool,
    no_preset,
    services,
)
from app.web.admin.comparison_summary import adopted_from, summaries_of
from app.web.admin.form_errors import FieldError, FormErrors
from app.web.admin.gallery_section import filter_error, gallery_section, wants_section
from app.web.admin.preset_form import preset_form_errors, price_texts
from app.web.admin.progress_fragment import progress_from_job, progress_from_record, read_record, render_progress

bp = Blueprint("admin_presets", __name__, url_prefix="/admin")


@dataclass(frozen=True)
class Head:
    """What the preset page's head needs, read in one query."""

    preset: Preset
    spent: Decimal
    live: Job | None  # its running job
    compared: bool  # whether it has comparisons (their list is read only then)


def preset_with_head(preset_id: str) -> Head:
    row = db.session.execute(head_statement(), {"preset_id": preset_id}).first()
    if row is None:
        no_preset(preset_id)
    preset, total, live_id, compared, *providers_stamp = row
    provider_rows.primed(tuple(providers_stamp))
    return Head(preset, ledger.usd(total), db.session.get(Job, live_id) if live_id else None, bool(compared))


@cache
def head_statement() -> Select:
    """`preset_with_head`'s statement, built once (building it is a third of the query's time)."""
    return select(
        Preset,
        ledger.preset_spend_column(Preset.id),
        live_job_id_column(Preset.id),
        select(Comparison.id).where(Comparison.preset_id == Preset.id).exists(),
        *provider_rows.stamp_columns(),
    ).where(Preset.id == bindparam("preset_id"))


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- list ------------------------------------------------------------------------
@bp.get("")
@bp.get("/")
def index() -> ResponseReturnValue:
    return redirect(url_for("admin_presets.presets"))


@bp.get("/presets")
def presets() -> ResponseReturnValue:
    q = (request.args.get("q") or "").strip()[:200]
    query = select(Preset).order_by(func.lower(Preset.name))
    if q:
        query = query.where(Preset.name.ilike(f"%{escape_like(q)}%", escape="\\"))
    rows = db.session.scalars(query).all()
    ids = [p.id for p in rows]
    examples = count_by_preset(GalleryExample.preset_id, func.count(), ids)
    usage = count_by_preset(PresetModelUsage.preset_id, func.count(), ids)
    live = count_by_preset(Job.preset_id, func.max(Job.status), ids, Job.status.in_(JOB_LIVE))
    context = dict(
        presets=rows,
        q=q,
        examples=examples,
        usage=usage,
        live=live,
        total_models=len(services().registry()),
        providers=provider_rows.all_providers(),
    )
    if is_htmx() and cast(Any, request).htmx.target == "presets-table":
        return render_template("admin/_presets_table.html", **context)
    return render_template("admin/presets.html", **context)


def count_by_preset(preset_column: Any, aggregate: Any, ids: list[str], *conditions: Any) -> dict:
    """{preset id: aggregate} for the listed presets, in one grouped query (none when the list is empty)."""
    if not ids:
        return {}
    query = select(preset_column, aggregate).where(preset_column.in_(ids), *conditions).group_by(preset_column)
    return {row[0]: row[1] for row in db.session.execute(query)}


# -- create / edit / delete ---------------------------------------------------------
def render_form(
    preset: Preset | None, form_values: dict, errors: FormErrors | None = None, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "admin/preset_form.html",
        preset=preset,
        values=form_values,
        errors=errors or FormErrors(),
        providers=provider_rows.active_providers(),
        retired=preset is not None and provider_rows.find(preset.provider) is not None,
        prices=price_texts(),
        default_provider=DEFAULT_PROVIDER,
    ), status


def form_values_of(preset: Preset) -> dict:
    values = {"name": preset.name, "prompt": preset.prompt, "provider": preset.provider}
    for key, value in (preset.settings or {}).items():
        values[f"setting-{preset.provider}-{key}"] = (
            "true" if value is True else "false" if value is False else str(value)
        )
    return values


def save_preset(preset: Preset | None) -> ResponseReturnValue:
    """The form's post through the presets' own service (the JSON API's rules and messages); the form again
    with each problem beside its field when refused."""
    errors = preset_form_errors(request.form)
    if errors:
        return render_form(preset, request.form.to_dict(), errors, 400)
    fields = fields_from_form(request.form, provider_rows.all_providers())
    try:
        if preset is None:
            saved = preset_service.create_preset(fields, g.actor)
        else:
            saved = preset_service.update_preset(preset, fields, g.actor)
    except PresetError as exc:
        if exc.message == preset_service.DUPLICATE_NAME:
            errors.add("name", "Name", exc.message)
        else:
            errors.general.append(exc.message)
        return render_form(preset, request.form.to_dict(), errors, exc.status)
    flash(f'Preset "{saved.name}" {"created" if preset is None else "saved"}.', "success")
    return redirect(url_for("admin_presets.preset", preset_id=saved.id), 303)


@bp.route("/presets/new", methods=["GET", "POST"])
def new_preset() -> ResponseReturnValue:
    if request.method == "POST":
        return save_preset(None)
    return render_form(None, {"provider": DEFAULT_PROVIDER})


@bp.route("/presets/<id:preset_id>/edit", methods=["GET", "POST"])
def edit_preset(preset_id: str) -> ResponseReturnValue:
    preset = get_preset(preset_id)
    if request.method == "POST":
        return save_preset(preset)
    return render_form(preset, form_values_of(preset))


@bp.post("/presets/<id:preset_id>/delete")
def delete_preset(preset_id: str) -> ResponseReturnValue:
    preset = get_preset(preset_id)
    try:
        flash(preset_service.delete_preset(preset, g.actor, services().storage), "success")
    except PresetError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin_presets.preset", preset_id=preset_id), 303)
    return redirect(url_for("admin_presets.presets"), 303)


# -- the preset page ---------------------------------------------------------------
def provider_context(preset: Preset) -> dict:
    """The preset's provider for its page: the row, why the preset cannot run on it (retired or gone) with the
    active ones it can switch to, or else the settings its model refuses today."""
    unavailable = provider_problem(preset)
    return {
        "provider": provider_rows.find(preset.provider),
        "unavailable": unavailable,
        "switch_to": provider_rows.active_providers() if unavailable else {},
        "settings_problem": None if unavailable else settings_problem(preset),
    }


def comparisons_context(head: Head) -> dict:
    """The page's comparisons section: their lines (read only when there are some) and what the preset adopted from
    one. The start form has its own page, linked from here: the preset page stays lean."""
    comparisons = summaries_of(head.preset.id) if head.compared else []
    return {"comparisons": comparisons, "adopted_from": adopted_from(head.preset, comparisons)}


@bp.get("/presets/<id:preset_id>")
def preset(preset_id: str) -> ResponseReturnValue:
    """The page, or its gallery section alone for htmx requests aimed at it (filters, pages, curation)."""
    head = preset_with_head(preset_id)
    preset, spent, live = head.preset, head.spent, head.live
    query = GalleryQuery()
    error: FieldError | None = None
    try:
        query = parse_gallery_query(request.args)
    except CurationError as exc:
        error = filter_error(exc)  # shown beside its filter, and the gallery shows its first page
    progress_html, hidden_job, shown = None, None, frozenset[str]()
    if live is not None:
        # Read the record before the gallery: every example in it is already committed, and the live
        # job's other examples come with the next polls, so none is shown twice.
        record, store_ok = read_record(live.id)
        state = progress_from_record(record) if record else progress_from_job(live)
        if store_ok:
            hidden_job, shown = live.id, frozenset(e["id"] for e in state["examples"])
        progress_html = render_progress(
            state,
            shown=len(state["examples"]) if store_ok else 0,
            provider=live.provider,
            view="preset",
            base=gallery_count(preset.id, exclude_job=live.id) if store_ok else None,
        )
    section = gallery_section(preset.id, query, live_job=hidden_job, shown=shown, error=error)
    status = 400 if error else 200
    pool = model_pool(preset.id)
    if wants_section():
        return fragment("admin/_gallery_page.html", status, oob=True, pool=pool, **section)
    settings = services().settings
    return render_template(
        "admin/preset.html",
        **comparisons_context(head),
        preset=preset,
        live=live,
        progress_html=progress_html,
        example_count=section["counts"].total,
        pool=pool,
        spent=spent,
        per_item=ledger.estimate_per_item(settings, preset.provider, settings.offline, preset.settings),
        estimate_note=ledger.estimate_note(settings, preset.provider, settings.offline, preset.settings),
        budget=ledger.month_json(settings) if settings.spend_limit_per_month is not None else None,
        max_examples=MAX_EXAMPLES_PER_MODEL,
        worker_command=CONSUMER_COMMAND,
        **provider_context(preset),
        **section,
    ), status
