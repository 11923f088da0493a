"""Everything that answers HTTP: the JSON API (`api`, with `api_regenerate`, the gallery's routes in
`api_gallery` and `api_analytics`; `analytics_data` the report a request asks for, shared with the page),
the admin pages (`admin`), who may call them (`auth`), stored images (`media`), error pages (`errors`) and
the probes (`health`)."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import BaseConverter

from . import (  # noqa: F401 (api_regenerate, api_gallery, api_analytics: routes on api.bp)
    admin,
    api,
    api_analytics,
    api_gallery,
    api_regenerate,
    auth,
    errors,
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
    admin.init_app(app)
    errors.init_app(app)
    inputs.init_app(app)
    throttle.init_app(app)
    app.extensions[throttle.EXTENSION].exempt(health.bp)  # a probe is never rate limited
