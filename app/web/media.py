"""Serving stored examples from our media folder (never the provider's expiring URLs).

Private to the signed-in browser (`Cache-Control: private`: no shared cache keeps an admin's images), and
never with a cookie (the session interface sets none under /media/). With media in S3 the pages link to the
bucket directly; a `/media/...` address (a link kept from before `media migrate`) redirects there."""

from flask import Blueprint, abort, redirect, send_from_directory
from flask.typing import ResponseReturnValue

from app.storage.local import MediaStorage
from app.web.auth import admin_required
from app.web.context import services

bp = Blueprint("media", __name__)


@bp.get("/media/<path:key>")
@admin_required
def media(key: str) -> ResponseReturnValue:
    storage = services().storage
    try:
        if not isinstance(storage, MediaStorage):
            return redirect(storage.url(key))
        storage.path_for(key)
    except ValueError:
        abort(404)
    response = send_from_directory(storage.root, key, max_age=3600)
    response.cache_control.public = False
    response.cache_control.private = True
    return response
