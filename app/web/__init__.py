"""Everything that answers HTTP: the JSON API (`api`, with the gallery's routes in `api_gallery`), the admin
pages (`admin`), who may call them (`auth`), stored images (`media`) and error pages (`errors`)."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import BaseConverter

from . import admin, api, api_gallery, auth, errors, hooks, inputs, media, throttle  # noqa: F401 (api_gallery: routes on api)


class IdConverter(BaseConverter):
    """Ids in URLs: letters, digits, '-' and '_'. Anything else is a 404 before it reaches a query."""

    regex = r"[A-Za-z0-9_-]{1,64}"


def init_app(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter
    auth.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(hooks.bp)
    admin.init_app(app)
    errors.init_app(app)
    inputs.init_app(app)
    throttle.init_app(app)
