"""What every module of the JSON API shares: its blueprints (under /api/admin), the body rules and the preset
lookup. A route that takes no body refuses one, one rule for the whole API (`refuse_a_body_where_none_is_taken`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from app.core.database import db
from app.core.errors import GenerationError, PresetError
from app.core.safe_json import JSONInputError, loads_checked
from app.models import Preset
from app.web.errors import error_response

URL_PREFIX = "/api/admin"
# The routes that read a JSON body (`read_json_body`); every other route of the API takes none.
TAKES_A_BODY = frozenset(
    {
        "api_presets.generate_examples",
        "api_presets.create_preset",
        "api_presets.update_preset",
        "api_gallery.set_selection_state",
        "api_gallery.set_example_state",
        "api_gallery.move_gallery_example",
        "api_comparisons.start",
        "api_comparisons.vote",
        "api_comparisons.adopt_variant",
    }
)
NO_BODY = "This address takes no body: send none, or {}."
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def api_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint of the JSON API: under /api/admin, refusing a body where its route takes none."""
    bp = Blueprint(name, import_name, url_prefix=URL_PREFIX)
    bp.before_request(refuse_a_body_where_none_is_taken)
    return bp


def refuse_a_body_where_none_is_taken() -> ResponseReturnValue | None:
    """A route that takes no body accepts nothing or {} and refuses anything else (400) before it acts:
    options it would ignore, or a body it cannot parse, are a caller's mistake worth telling."""
    if request.endpoint in TAKES_A_BODY:
        return None
    if request.mimetype in FORM_TYPES and (request.content_length or request.form or request.files):
        return error_response(400, NO_BODY)  # a form: the app's input checks parsed it, its raw bytes are gone
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        body = loads_checked(raw)
    except JSONInputError as exc:
        return error_response(400, f"{exc} {NO_BODY}")
    if body != {}:
        return error_response(400, NO_BODY)
    return None


def read_json_body(required: bool) -> Any:
    """The parsed JSON body, None when empty and allowed, or a GenerationError with a message."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise GenerationError(
                'The request body must be a JSON object, e.g. {"examplesPerModel": 1} (send {} for the defaults).'
            )
        return None
    if not request.is_json:
        raise GenerationError("Send the body as JSON with 'Content-Type: application/json'.")
    try:
        body = loads_checked(raw)
    except JSONInputError as exc:  # too deep, too large, NaN, bad text…: say which
        raise GenerationError(str(exc)) from None
    if body is None:
        raise GenerationError("The request body must be a JSON object, not null.")
    return body


def get_preset_or_404(preset_id: str) -> Preset:
    preset = db.session.get(Preset, preset_id)
    if preset is None:
        raise PresetError(f"No preset with id {preset_id!r}.", 404)
    return preset
