"""One example beside its reference photo, large, in review mode: a plain page per example with previous /
next / back links and a form per action (works without JavaScript), or the same view as a fragment for the
gallery's overlay (`HX-Request`). The actions are `views_review`'s.

Previous / next follow the gallery's order (`gallery_order`: curated).
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from app.web.admin.common import get_preset, is_htmx
from app.web.admin.example_page import example_context

bp = Blueprint("admin_example", __name__, url_prefix="/admin")


@bp.get("/presets/<id:preset_id>/examples/<id:example_id>")
def example_view(preset_id: str, example_id: str) -> ResponseReturnValue:
    """The side-by-side view; 404 for an example that is not (or no longer) in this preset's gallery."""
    context = example_context(get_preset(preset_id), example_id)
    if is_htmx():
        return render_template("admin/_example_view.html", **context, in_dialog=True)
    return render_template("admin/example.html", **context, in_dialog=False)
