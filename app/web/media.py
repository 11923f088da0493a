"""Serving stored examples from our media folder (never the provider's expiring URLs)."""

from flask import Blueprint, abort, send_from_directory

from .auth import admin_required
from .context import services

bp = Blueprint("media", __name__)


@bp.get("/media/<path:key>")
@admin_required
def media(key: str):
    storage = services().storage
    try:
        storage.path_for(key)
    except ValueError:
        abort(404)
    return send_from_directory(storage.root, key, max_age=3600)
