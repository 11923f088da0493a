"""The gallery feed's images from local storage: the route that serves the signed `/feed-media/<key>` links the
consumer app loads without signing in (`feed.links` makes them).

A link outlives a curator's change of mind, so the route serves the image only while the example it names is
still featured or approved and the key is one of that example's images (the original or a size): one lookup
by primary key. Anyone may cache the image (the signed link is the credential), but for `MAX_AGE` only, so a
CDN forgets a rejected example's images within minutes; the refusal is cached as briefly. Otherwise served
with the protections of `/media/` (the key checked, images only with their own content type, nosniff, no
session and no cookie).
"""

from __future__ import annotations

import re
import time

from flask import Blueprint, abort, current_app, request, send_from_directory
from flask.typing import ResponseReturnValue
from flask_limiter import RateLimitExceeded
from werkzeug.wrappers import Response

from app.core.database import db
from app.gallery.query import PUBLISHED_STATES
from app.models import GalleryExample
from app.storage.local import MediaStorage
from app.web.context import services
from app.web.errors import error_response
from app.web.feed.links import too_many_requests, valid_link

bp = Blueprint("feed_media", __name__)  # its rate limit: `limit_the_feed` in app.web
bp.register_error_handler(RateLimitExceeded, too_many_requests)

SERVED_PREFIX = "examples/"  # the galleries' images only: never the models' reference photos
IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
EXAMPLE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # as the app's `id` URL converter: nothing else reaches a query
MAX_AGE = 300  # how long any cache may keep an image, or the 404 of one no longer published
BAD_LINK = "This image link is invalid or has expired: read the gallery feed again for fresh links."
UNPUBLISHED = "This image is no longer in the gallery feed: read the feed again."


def published_image(example_id: str, key: str) -> bool:
    """Whether `key` is an image (the original or a size) of example `example_id` while it is featured or
    approved: one lookup by primary key."""
    if not EXAMPLE_ID.fullmatch(example_id):
        return False
    example = db.session.get(GalleryExample, example_id)
    return (
        example is not None
        and example.state in PUBLISHED_STATES
        and key in (example.image_path, example.thumb_path, example.medium_path)
    )


@bp.get("/feed-media/<path:key>")
def feed_media(key: str) -> ResponseReturnValue:
    settings = services().settings
    expires, given = request.args.get("expires", ""), request.args.get("signature", "")
    if not valid_link(settings.secret_key, key, expires, given):
        return error_response(403, BAD_LINK)
    storage = services().storage
    content_type = IMAGE_TYPES.get(key.rsplit(".", 1)[-1].lower())
    if not isinstance(storage, MediaStorage) or content_type is None or not key.startswith(SERVED_PREFIX):
        abort(404)  # only the local folder is served from here, and only its gallery images
    try:
        storage.path_for(key)
    except ValueError:
        abort(404)
    if not published_image(request.args.get("example", ""), key):
        return publicly_cached(current_app.make_response(error_response(404, UNPUBLISHED)), MAX_AGE)
    lifetime = max(0, min(MAX_AGE, int(expires) - int(time.time())))
    response = send_from_directory(storage.root, key, mimetype=content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return publicly_cached(response, lifetime)


def publicly_cached(response: Response, max_age: int) -> Response:
    """The signed link is the credential: any cache may keep the answer, for `max_age` seconds."""
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response
