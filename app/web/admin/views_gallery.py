"""The preset page's live parts: deleting an example, releasing a model, clearing usage and the
generate form (htmx gets the progress fragment, a plain form post a 303 to the job page).
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from app.core.database import db
from app.core.errors import GenerationError
from app.gallery import example_delete
from app.jobs.submit import MAX_EXAMPLES_PER_MODEL, parse_generation_request, request_generation
from app.pool import release
from app.web.admin.common import fragment, gallery_count, get_preset, is_htmx, model_pool, services
from app.web.admin.form_errors import FormErrors
from app.web.admin.progress_fragment import queued_fragment

bp = Blueprint("admin_gallery", __name__, url_prefix="/admin")


@bp.post("/presets/<id:preset_id>/examples/<id:example_id>/delete")
def delete_example(preset_id: str, example_id: str) -> ResponseReturnValue:
    """Delete one example, and release its model when asked (`gallery.example_delete`; its refusals, a 404 or a
    409 naming the job that holds the model, are answered by the app's error handler)."""
    and_release = request.form.get("release") == "1"
    message = example_delete.delete_example(preset_id, example_id, and_release, g.actor, services().storage)
    if is_htmx():
        return fragment(
            "admin/_example_deleted.html",
            pool=model_pool(preset_id),
            example_count=gallery_count(preset_id),
            message=message,
            preset_id=preset_id,
        )
    flash(message, "success")
    return redirect(url_for("admin_presets.preset", preset_id=preset_id), 303)


@bp.post("/presets/<id:preset_id>/clear-usage")
def clear_preset_usage(preset_id: str) -> ResponseReturnValue:
    preset = get_preset(preset_id)
    try:
        flash(release.clear_preset_usage(preset, g.actor), "success")
    except GenerationError as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin_presets.preset", preset_id=preset.id) + "#pool", 303)


@bp.post("/presets/<id:preset_id>/models/release")
def release_model(preset_id: str) -> ResponseReturnValue:
    """One used model becomes free again (asked on the page); its examples stay. The pool's one form posts here,
    its pressed button saying which model (`model`)."""
    get_preset(preset_id)
    model_id = request.form.get("model", "").strip()[:100]
    try:
        if not model_id:
            raise GenerationError("Say which model to release: press the Release button on its row of the pool.", 400)
        flash(release.release_one_model(services(), preset_id, model_id, g.actor), "success")
    except GenerationError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("admin_presets.preset", preset_id=preset_id) + "#pool", 303)


PICK_MODE = "pick-mode"  # the generate form's "Models" group, where "no model ticked" is shown
NONE_TICKED = "Tick at least one free model in the model pool, or switch back to random models."


def generate_form_errors(form: MultiDict[str, str]) -> FormErrors:
    """The generate form's own fields checked before anything is reserved, each problem beside its field."""
    errors = FormErrors()
    raw = (form.get("examples_per_model") or "1").strip()
    if not raw.isdecimal() or not 1 <= int(raw) <= MAX_EXAMPLES_PER_MODEL:
        errors.add(
            "examples_per_model",
            "Examples per model",
            f"Enter a whole number between 1 and {MAX_EXAMPLES_PER_MODEL} (got {raw[:20]!r}).",
        )
    if form.get("mode") == "choose" and not [i for i in form.getlist("model_ids") if i]:
        errors.add(PICK_MODE, "Models", NONE_TICKED)
    return errors


def generation_refused(preset_id: str, errors: FormErrors, status: int = 400) -> ResponseReturnValue:
    """htmx: the errors as a 200 fragment at the top of the form, each field's message beside it (out of band);
    a plain post: flashed on the preset page (a 404's on the presets list)."""
    db.session.rollback()
    if is_htmx():
        return fragment(
            "admin/_generate_error.html",
            errors=errors,
            headers={"HX-Retarget": "#generate-feedback", "HX-Reswap": "innerHTML"},
        )
    for message in [e.message for e in errors.fields] + errors.general:
        flash(message, "error")
    if status == 404:
        return redirect(url_for("admin_presets.presets"), 303)
    return redirect(url_for("admin_presets.preset", preset_id=preset_id), 303)


@bp.post("/presets/<id:preset_id>/generate")
def generate(preset_id: str) -> ResponseReturnValue:
    """htmx → the progress fragment (errors as a 200 fragment); a plain form post → 303 to the job page."""
    errors = generate_form_errors(request.form)
    if errors:
        return generation_refused(preset_id, errors)
    ids = [i for i in request.form.getlist("model_ids") if i] if request.form.get("mode") == "choose" else []
    try:
        body = {"examplesPerModel": int((request.form.get("examples_per_model") or "1").strip())}
        asked = parse_generation_request(body | ({"modelIds": ids} if ids else {}))
        queued = request_generation(
            services(), preset_id, asked.examples_per_model, model_ids=asked.model_ids, created_by=g.actor
        )
    except GenerationError as exc:
        return generation_refused(preset_id, FormErrors(general=[exc.message]), exc.status)
    job = queued.job
    if not is_htmx():
        flash(queued.message + (f". {queued.selection.warning}" if queued.selection.warning else "."), "success")
        return redirect(url_for("admin_jobs.job", job_id=job.id), 303)
    return queued_fragment(preset_id, job, queued.message, queued.selection.warning)
