"""Everything that answers HTTP, one blueprint per module that owns routes, registered here:

- `api/`: the JSON API under /api/admin (`presets`, `jobs`, `gallery`, `regenerate`, `reports`)
- `admin/`: the admin pages
- `feed/`: the consumer app's gallery feed (`gallery`) and its images (`images`, signed links from `links`)
- `openapi/`: the API's contract (OpenAPI 3.1), served at /api/openapi.json and as the admin's reference page
- `media`: stored images for the admin; `webhooks`: Replicate's signed webhooks; `health`: /healthz and /readyz

and what every request goes through: who may call (`auth`, `sessions`, `throttle`), refused input (`inputs`)
and error answers (`errors`).
"""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response

from app.services import services_of
from app.web import admin, auth, errors, health, inputs, media, metrics, throttle, webhooks
from app.web.api import comparisons as api_comparisons
from app.web.api import gallery as api_gallery
from app.web.api import jobs as api_jobs
from app.web.api import presets as api_presets
from app.web.api import regenerate as api_regenerate
from app.web.api import reports as api_reports
from app.web.feed import gallery as feed_gallery
from app.web.feed import images as feed_images
from app.web.openapi import bp as openapi_bp

BLUEPRINTS = (
    api_presets.bp,
    api_jobs.bp,
    api_gallery.bp,
    api_regenerate.bp,
    api_reports.bp,
    api_comparisons.bp,
    media.bp,
    webhooks.bp,
    health.bp,
    metrics.bp,
    feed_gallery.bp,
    feed_images.bp,
    openapi_bp,
)


class IdConverter(BaseConverter):
    """Ids in URLs: letters, digits, '-' and '_'. Anything else is a 404 before it reaches a query."""

    regex = r"[A-Za-z0-9_-]{1,64}"


def init_app(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter
    auth.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    admin.init_app(app)
    errors.init_app(app)
    inputs.init_app(app)
    throttle.init_app(app)
    app.extensions[throttle.EXTENSION].exempt(health.bp)  # a probe is never rate limited
    app.extensions[throttle.EXTENSION].exempt(metrics.bp)  # nor a scrape
    limit_the_feed(app)
    app.after_request(no_store_for_data)
    app.add_url_rule("/favicon.ico", "favicon", favicon)


DATA_TYPES = frozenset({"application/json", "text/csv"})


def no_store_for_data(response: Response) -> Response:
    """JSON and CSV answers carry admin data: no cache, shared or the browser's, keeps them (as the pages).
    An answer that says otherwise keeps its own; so does the feed, whose rules are `feed.gallery`'s."""
    if response.mimetype in DATA_TYPES and not request.path.startswith(feed_gallery.FEED_PATH_PREFIXES):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def favicon() -> Response:
    """Browsers ask for /favicon.ico on their own (JSON answers, images): the pages' icon."""
    return current_app.send_static_file("favicon.svg")


def limit_the_feed(app: Flask) -> None:
    """The feed and its images are open to the consumer app (or anyone): each has its own limit per client
    address (GALLERY_FEED_LIMITS), with a 429 that names the feed and when to come back."""
    limiter, limits = app.extensions[throttle.EXTENSION], services_of(app).settings.gallery_feed_limits
    for blueprint in (feed_gallery.bp, feed_images.bp):
        limiter.limit(limits)(blueprint)
