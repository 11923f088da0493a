"""The gallery feed's images from local storage: signed, expiring `/feed-media/<key>` links the consumer app
loads without signing in, and the route that serves them.

A link is `/feed-media/<key>?example=<id>&expires=<unix time>&signature=<HMAC-SHA256 of key and expiry>`. The
HMAC key is derived from SECRET_KEY for this use alone, so a signature made here is worth nothing to sessions
or CSRF tokens, and rotating SECRET_KEY voids every link. The expiry is rounded up to a UTC day boundary at
least a day ahead: every link made during one UTC day is the same (the feed's body and ETag stay put all day)
and lives 24 to 48 h. A storage whose URLs are absolute (S3: public or presigned) is linked to directly
instead, presigned for an hour at most (`short_url`).

A link outlives a curator's change of mind, so the route serves the image only while the example it names is
still featured or approved and the key is one of that example's images (the original or a size): one lookup
by primary key. Anyone may cache the image (the signed link is the credential), but for `MAX_AGE` only, so a
CDN forgets a rejected example's images within minutes; the refusal is cached as briefly. Otherwise served
with the protections of `/media/` (the key checked, images only with their own content type, nosniff, no
session and no cookie).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, request, send_from_directory, url_for
from flask_limiter import RateLimitExceeded

from app.database import db
from app.gallery_query import PUBLISHED_STATES
from app.models import GalleryExample
from app.storage.base import Storage
from app.storage.local import MediaStorage
from app.web.context import services
from app.web.errors import error_response
from app.web.throttle import retry_after

bp = Blueprint("feed_media", __name__)  # its rate limit: `limit_the_feed` in app.web

FEED_MEDIA_PREFIX = "/feed-media/"
DAY = 86_400
SERVED_PREFIX = "examples/"  # the galleries' images only: never the models' reference photos
IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
EXPIRES_DIGITS = 12
EXAMPLE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # as the app's `id` URL converter: nothing else reaches a query
MAX_AGE = 300  # how long any cache may keep an image, or the 404 of one no longer published
BAD_LINK = "This image link is invalid or has expired: read the gallery feed again for fresh links."
UNPUBLISHED = "This image is no longer in the gallery feed: read the feed again."


def url_day(now: float | None = None) -> int:
    """The UTC day (days since the epoch) whose links the feed hands out now."""
    return int((time.time() if now is None else now) // DAY)


def link_expiry(day: int) -> int:
    """The end of the day after `day`: a link made on `day` lives 24 to 48 h."""
    return (day + 2) * DAY


def signature(secret_key: str, key: str, expires: int) -> str:
    signing_key = hmac.new(secret_key.encode(), b"pixelglow feed-media link v1", hashlib.sha256).digest()
    message = f"{key}\n{expires}".encode("utf-8", "surrogatepass")  # a hostile path may hold lone surrogates
    digest = hmac.new(signing_key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def valid_link(secret_key: str, key: str, expires: str, given: str, now: float | None = None) -> bool:
    if not expires.isascii() or not expires.isdigit() or len(expires) > EXPIRES_DIGITS:
        return False
    if int(expires) <= (time.time() if now is None else now):
        return False
    return hmac.compare_digest(signature(secret_key, key, int(expires)).encode(), given.encode("utf-8", "replace"))


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


class FeedLinks:
    """The storage as the feed shows it to the consumer app: the storage's own URL when it is absolute (S3
    public, or presigned for an hour at most), else a signed `/feed-media/` link naming the example (`of`);
    everything else is the storage's own. Handed to `example_json` in place of the storage, so every image
    field it makes (the image and its sizes) is one."""

    def __init__(
        self, storage: Storage, secret_key: str, day: int, base_url: str | None, example_id: str | None = None
    ):
        self.storage, self.secret_key, self.day, self.base_url = storage, secret_key, day, base_url
        self.example_id = example_id

    def of(self, example: GalleryExample) -> FeedLinks:
        """The links of one example's images."""
        return FeedLinks(self.storage, self.secret_key, self.day, self.base_url, example.id)

    def url(self, key: str) -> str:
        own = self.storage.short_url(key)
        if urlsplit(own).scheme in ("http", "https"):
            return own
        expires = link_expiry(self.day)
        path = url_for(
            "feed_media.feed_media",
            key=key,
            example=self.example_id,
            expires=expires,
            signature=self.sign(key, expires),
        )
        # PUBLIC_BASE_URL names where the app is reached, its mount point included (as the webhook URL does)
        return f"{self.base_url}{path[len(request.script_root) :]}" if self.base_url else path

    def sign(self, key: str, expires: int) -> str:
        return signature(self.secret_key, key, expires)

    def __getattr__(self, name: str):
        return getattr(self.storage, name)


@bp.get("/feed-media/<path:key>")
def feed_media(key: str):
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


def publicly_cached(response, max_age: int):
    """The signed link is the credential: any cache may keep the answer, for `max_age` seconds."""
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response


@bp.errorhandler(RateLimitExceeded)
def too_many_requests(exc: RateLimitExceeded):
    """The feed's and its images' own 429 (the app's default one is about sign-ins)."""
    wait = retry_after()
    response = current_app.make_response(error_response(429, f"Too many gallery feed requests: try again in {wait} s."))
    response.headers["Retry-After"] = str(wait)
    return response
