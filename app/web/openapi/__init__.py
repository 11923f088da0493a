"""The JSON API's contract, written as the source of truth in `openapi.yaml` (OpenAPI 3.1): served as JSON at
/api/openapi.json (public: it holds no secret) and as a readable reference page in the admin (/admin/api,
built by `reference` from the same document). The tests check it against the URL map and the app's answers."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify, render_template

from app.web.auth import admin_required
from app.web.openapi.reference import operations, schemas

SPEC_FILE = "openapi.yaml"
CACHE_SECONDS = 300

bp = Blueprint("openapi", __name__, template_folder="templates")


@cache
def document() -> dict[str, Any]:
    """The contract as a dict, read once from the file shipped in this package."""
    return yaml.safe_load(files(__package__).joinpath(SPEC_FILE).read_text(encoding="utf-8"))


@bp.get("/api/openapi.json")
def openapi_json() -> Response:
    response = jsonify(document())
    response.cache_control.public = True
    response.cache_control.max_age = CACHE_SECONDS
    return response


@bp.get("/admin/api")
@admin_required
def reference_page() -> str:
    spec = document()
    return render_template(
        "openapi/reference.html", info=spec["info"], operations=operations(spec), schemas=schemas(spec)
    )
