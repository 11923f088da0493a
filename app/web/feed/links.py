"""The gallery feed's image links: signed, expiring `/feed-media/<key>` links to local storage (served by
`feed.images`), or the storage's own absolute URL (S3, public or presigned for an hour at most).

A link is `/feed-media/<key>?example=<id>&expires=<unix time>&signature=<HMAC-SHA256 of key and expiry>`. The
HMAC key is derived from SECRET_KEY for this use alone, so a signature made here is worth nothing to sessions
or CSRF tokens, and rotating SECRET_KEY voids every link. The expiry is rounded up to a UTC day boundary at
least a day ahead: every link made during one UTC day is the same (the feed's body and ETag stay put all day)
and lives 24 to 48 h.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request, url_for
from flask_limiter import RateLimitExceeded
from werkzeug.wrappers import Response

from app.models import GalleryExample
from app.storage.base import Storage
from app.web.errors import error_response
from app.web.throttle import retry_after

FEED_MEDIA_PREFIX = "/feed-media/"


DAY = 86_400


EXPIRES_DIGITS = 12


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


class FeedLinks:
    """The storage as the feed shows it to the consumer app: the storage's own URL when it is absolute (S3
    public, or presigned for an hour at most), else a signed `/feed-media/` link naming the example (`of`);
    everything else is the storage's own. Handed to `example_json` in place of the storage, so every image
    field it makes (the image and its sizes) is one."""

    def __init__(
        self, storage: Storage, secret_key: str, day: int, base_url: str | None, example_id: str | None = None
    ) -> None:
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

    def __getattr__(self, name: str) -> Any:
        return getattr(self.storage, name)


def too_many_requests(exc: RateLimitExceeded) -> Response:
    """The feed's and its images' own 429 (the app's default one is about sign-ins)."""
    wait = retry_after()
    response = current_app.make_response(error_response(429, f"Too many gallery feed requests: try again in {wait} s."))
    response.headers["Retry-After"] = str(wait)
    return response
