"""Everything that answers HTTP: the JSON API (`api`, with `api_regenerate`, the gallery's routes in
`api_gallery` and `api_analytics`; `analytics_data` the report a request asks for, shared with the page),
the admin pages (`admin`), who may call them (`auth`), stored images (`media`), error pages (`errors`), the
probes (`health`) and the consumer app's gallery feed (`api_feed`, its images `feed_media`)."""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.routing import BaseConverter

from app.services import services_of
from app.web import (
    admin,
    api,
    api_analytics,
    api_feed,
    api_gallery,
    api_regenerate,
    auth,
    errors,
    feed_media,
    health,
    hooks,
    inputs,
    media,
    throttle,
)


class IdConverter(BaseConverter):
    """Ids in URLs: letters, digits, '-' and '_'. Anything else is a 404 before it reaches a query."""

    regex = r"[A-Za-z0-9_-]{1,64}"


def init_app(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter
    auth.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(hooks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api_feed.bp)
    app.register_blueprint(feed_media.bp)
    admin.init_app(app)
    errors.init_app(app)
    inputs.init_app(app)
    throttle.init_app(app)
    app.extensions[throttle.EXTENSION].exempt(health.bp)  # a probe is never rate limited
    limit_the_feed(app)
    app.after_request(no_store_for_data)
    app.add_url_rule("/favicon.ico", "favicon", favicon)


DATA_TYPES = frozenset({"application/json", "text/csv"})


def no_store_for_data(response):
    """JSON and CSV answers carry admin data: no cache, shared or the browser's, keeps them (as the pages).
    An answer that says otherwise keeps its own; so does the feed, whose rules are `api_feed`'s."""
    if response.mimetype in DATA_TYPES and not request.path.startswith(api_feed.FEED_PATH_PREFIXES):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def favicon():
    """Browsers ask for /favicon.ico on their own (JSON answers, images): the pages' icon."""
    return current_app.send_static_file("favicon.svg")


def limit_the_feed(app: Flask) -> None:
    """The feed and its images are open to the consumer app (or anyone): each has its own limit per client
    address (GALLERY_FEED_LIMITS), with a 429 that names the feed and when to come back."""
    limiter, limits = app.extensions[throttle.EXTENSION], services_of(app).settings.gallery_feed_limits
    for blueprint in (api_feed.bp, feed_media.bp):
        limiter.limit(limits)(blueprint)
