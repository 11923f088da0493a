"""A reference model's thumbnail for the pages: the cached photo's thumbnail, or a labelled placeholder while
it is not cached (offline, or before `flask models cache`), so a card and the model pool always show a face."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect
from flask.typing import ResponseReturnValue

from app.pool.placeholder_photo import placeholder_png
from app.pool.reference_photos import SAFE_MODEL_ID, thumbnail_url
from app.web.admin.common import services

bp = Blueprint("admin_references", __name__, url_prefix="/admin")


@bp.get("/models/<model_id>/thumbnail")
def thumbnail(model_id: str) -> ResponseReturnValue:
    """The cached thumbnail (a redirect to it), or the placeholder; 404 for a model the registry lacks."""
    model = services().registry().get(model_id) if SAFE_MODEL_ID.match(model_id) else None
    if model is None:
        abort(404)
    cached = thumbnail_url(services().storage, model_id)
    if cached:
        return redirect(cached, 302)
    return placeholder(model_id)


@bp.get("/models/<model_id>/placeholder.png")
def placeholder(model_id: str) -> ResponseReturnValue:
    model = services().registry().get(model_id) if SAFE_MODEL_ID.match(model_id) else None
    if model is None:
        abort(404)
    response = Response(placeholder_png(model.id, model.gender), mimetype="image/png")
    response.cache_control.private = True
    response.cache_control.max_age = 3600
    return response
