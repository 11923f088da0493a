"""A gallery card's HTML, rendered once per distinct card and kept per process (least recently used first out).

Why: the preset page shows 50 cards, each with about ten links and five forms (curation, regenerate, release,
delete); rendering them was two thirds of the page's time. A card's markup is a pure function of its card dict
(every value it shows or links to, including where its forms come back to and whether it can move) and of the
request's script root; the one per-request part, the CSRF token, is rendered as a placeholder and substituted on
the way out. A card that changes (a verdict, a move, its reference cached) is a new key, so nothing is stale.
Templates that reload while the app runs (debug) are rendered every time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from flask import current_app, request
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

CACHED_CARDS = 600  # a dozen pages of 50 cards; about 8 KB each (markup and key)
TOKEN_PLACEHOLDER = "csrf-token-placeholder-3f9d2c"  # never in a card's own values: ids are hex, URLs ours
EXTENSION = "gallery_card_html"


def card_html(card: dict[str, Any]) -> Markup:
    """The card's `<li>`, with this request's CSRF token in its forms."""
    key = json.dumps(card, sort_keys=True, default=str, separators=(",", ":"))
    render = current_app.extensions.get(EXTENSION)
    if render is None:
        render = current_app.extensions[EXTENSION] = lru_cache(maxsize=CACHED_CARDS)(render_card)
    if current_app.jinja_env.auto_reload:
        html = render_card(key, request.script_root)
    else:
        html = render(key, request.script_root)
    return Markup(html.replace(TOKEN_PLACEHOLDER, generate_csrf()))


def render_card(key: str, script_root: str) -> str:
    """The card's markup from its key alone (the JSON of its dict), so what is kept is what the key says.
    `script_root` is part of the key: the card's links start with it."""
    macro: Callable[..., str] = current_app.jinja_env.get_template("admin/_macros.html").module.example_card
    return str(macro(json.loads(key), token=TOKEN_PLACEHOLDER))
