"""Serving stored examples from our media folder (never the provider's expiring URLs).

Private to the signed-in browser (`Cache-Control: private`: no shared cache keeps an admin's images), and
never with a cookie (the session interface sets none under /media/)."""

from flask import Blueprint, abort, send_from_directory

from ..storage.local import MediaStorage
from .auth import admin_required
from .context import services

bp = Blueprint("media", __name__)


@bp.get("/media/<path:key>")
@admin_required
def media(key: str):
    storage = services().storage
    if not isinstance(storage, MediaStorage):  # only the local folder is served from here
        abort(404)
    try:
        storage.path_for(key)
    except ValueError:
        abort(404)
    response = send_from_directory(storage.root, key, max_age=3600)
    response.cache_control.public = False
    response.cache_control.private = True
    return response
