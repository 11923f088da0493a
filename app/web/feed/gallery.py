"""The gallery feed for the consumer app: `GET /api/presets/<id>/gallery`, read-only.

Who may read it: the holder of GALLERY_FEED_TOKEN (`Authorization: Bearer …`, compared in constant time), or
anyone with GALLERY_FEED_PUBLIC=1. Never a session: no cookie is read or set and no CSRF token applies.
What it returns: the curated gallery only (featured, then approved, in the curators' order from
`gallery.query`), a page at a time like the admin gallery (`page`, `perPage`, `next`), each item as the admin
API lists it but with image URLs the consumer can load without signing in (`feed.links.FeedLinks`).

Caching: a weak ETag computed from the page's rows (every column of every example on it, the page, the total,
the day whose links it carries, and when S3 signs its links anew) answers `If-None-Match` with a 304, and
`Cache-Control` allows a minute (`public` when the feed is public, `private` behind the token). A public feed
allows any origin (CORS): it holds nothing a browser script could not read anyway; behind the token there is
none, the token belongs on a server, never in a browser.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

from flask import Blueprint, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_limiter import RateLimitExceeded
from sqlalchemy import inspect
from werkzeug.wrappers import Response

from app.core.config import Settings
from app.core.database import db
from app.core.errors import PresetError
from app.gallery.query import (
    PAGE_MAX,
    PER_PAGE_DEFAULT,
    PER_PAGE_MAX,
    GalleryPage,
    PublishedGalleryQuery,
    curated_json,
    gallery_page,
    whole_number,
)
from app.models import GalleryExample, Preset
from app.web.context import services
from app.web.errors import error_response
from app.web.feed.links import FEED_MEDIA_PREFIX, FeedLinks, too_many_requests, url_day

bp = Blueprint("feed_gallery", __name__, url_prefix="/api/presets")
bp.register_error_handler(RateLimitExceeded, too_many_requests)  # its rate limit: `limit_the_feed` in app.web

# The feed's own URLs: authenticated by their token or signature alone, never by a session (auth and sessions
# leave them alone)
FEED_PATH_PREFIXES = ("/api/presets/", FEED_MEDIA_PREFIX)
FEED_FORMAT = "gallery-feed-2"  # part of every ETag: a change of the body's shape invalidates caches
MAX_AGE = 60
LINKS_PROBE = "examples/feed-links-probe.png"  # its URL changes when every image URL of the storage's does
NO_TOKEN_SET = (
    "The gallery feed has no token: set GALLERY_FEED_TOKEN and send it as 'Authorization: Bearer "
    "<GALLERY_FEED_TOKEN>', or set GALLERY_FEED_PUBLIC=1 to open it to anyone."
)
TOKEN_MISSING = "The gallery feed needs its token: send 'Authorization: Bearer <GALLERY_FEED_TOKEN>'."
TOKEN_WRONG = "The gallery feed's token is wrong: send 'Authorization: Bearer <GALLERY_FEED_TOKEN>'."


def refusal(settings: Settings) -> str | None:
    """Why this request may not read the feed, or None when it may."""
    if settings.gallery_feed_public:
        return None
    if not settings.gallery_feed_token:
        return NO_TOKEN_SET
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    presented = credentials.strip() if scheme.lower() == "bearer" else ""
    if not presented:
        return TOKEN_MISSING
    if not hmac.compare_digest(presented.encode("utf-8", "replace"), settings.gallery_feed_token.encode()):
        return TOKEN_WRONG
    return None


def parse_feed_query(args: Mapping[str, str]) -> PublishedGalleryQuery:
    """page and perPage as the admin gallery takes them (a 400 naming a bad one); the feed has no filters."""
    return PublishedGalleryQuery(
        page=whole_number(args, "page", 1, PAGE_MAX, 1),
        per_page=whole_number(args, "perPage", 1, PER_PAGE_MAX, PER_PAGE_DEFAULT),
    )


def row_values(example: GalleryExample) -> list:
    """Every column of the row, so any change to what the feed shows of it changes the ETag."""
    return [getattr(example, column.key) for column in inspect(GalleryExample).column_attrs]


def feed_etag(preset_id: str, page: GalleryPage, day: int, settings: Settings) -> str:
    storage = services().storage
    about = [FEED_FORMAT, preset_id, page.query.page, page.query.per_page, page.total, day]
    about += [type(storage).__name__, settings.public_base_url]  # where the links point
    about.append(storage.short_url(LINKS_PROBE))  # S3 presigns them anew each half hour and with new credentials
    digest = hashlib.sha256(json.dumps(about).encode())
    for example in page.examples:
        digest.update(json.dumps(row_values(example), default=str, sort_keys=True).encode())
    return digest.hexdigest()[:40]


def feed_body(preset_id: str, page: GalleryPage, links: FeedLinks) -> dict:
    query = page.query
    return {
        "presetId": preset_id,
        "items": [curated_json(example, links.of(example)) for example in page.examples],
        "page": query.page,
        "perPage": query.per_page,
        "total": page.total,
        "next": (
            url_for("feed_gallery.preset_gallery", preset_id=preset_id, page=query.page + 1, perPage=query.per_page)
            if page.has_next
            else None
        ),
    }


def with_caching(response: Response, etag: str, settings: Settings) -> Response:
    response.set_etag(etag, weak=True)
    response.cache_control.max_age = MAX_AGE
    if settings.gallery_feed_public:
        response.cache_control.public = True
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = "ETag"
    else:
        response.cache_control.private = True
        response.vary.add("Authorization")
    return response


@bp.get("/<id:preset_id>/gallery")
def preset_gallery(preset_id: str) -> ResponseReturnValue:
    """?page=&perPage= → {presetId, items, page, perPage, total, next}; 304 when If-None-Match holds its ETag."""
    settings = services().settings
    refused = refusal(settings)
    if refused:
        response = current_app.make_response(error_response(401, refused))
        response.headers["WWW-Authenticate"] = 'Bearer realm="gallery feed"'
        return response
    if db.session.get(Preset, preset_id) is None:
        raise PresetError(f"No preset with id {preset_id!r}.", 404)
    page = gallery_page(preset_id, parse_feed_query(request.args))
    day = url_day()
    etag = feed_etag(preset_id, page, day, settings)
    if request.if_none_match.contains_weak(etag):
        return with_caching(current_app.response_class(status=304), etag, settings)
    links = FeedLinks(services().storage, settings.secret_key, day, settings.public_base_url)
    return with_caching(jsonify(feed_body(preset_id, page, links)), etag, settings)
