"""Page parts rendered once per distinct content and kept per process (least recently used first out): the
gallery's cards and the model pool.

Why: the preset page shows 50 cards, each with about ten links and five forms (curation, regenerate, release,
delete), and a pool of 72 models; rendering them was most of the page's time. Each part's markup is a pure
function of its key: the JSON of everything it shows or links to (a card's dict, including where its forms
come back to and whether it can move; the pool's models, states and holders), the macro's options and the
request's script root. The one per-request part, the CSRF token, is rendered as a placeholder and filled in on
the way out. A part that changes is a new key, so nothing kept is stale. With templates that reload while the
app runs (debug), every part is rendered every time.
"""

from __future__ import annotations

import json
from threading import Lock
from typing import Any

from cachetools import LRUCache
from flask import current_app, g, request
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from .common import Pool

KEPT_CHARACTERS = 8_000_000  # of markup per app (keys add a fifth): about 1,300 cards, fewer with pools (36 KB each)
# Filled with the token wherever it appears: in a prompt that quoted it, a viewer would see their own token,
# which their page carries anyway
TOKEN_PLACEHOLDER = "csrf-token-placeholder-3f9d2c"
EXTENSION = "kept_html"
MACROS = "admin/_macros.html"


class KeptParts:
    """One app's kept markup, shared by its request threads."""

    def __init__(self) -> None:
        self.parts: LRUCache[str, str] = LRUCache(maxsize=KEPT_CHARACTERS, getsizeof=len)
        self.lock = Lock()
        self.hits = self.misses = 0


def card_html(card: dict[str, Any]) -> Markup:
    """A gallery card's `<li>` (the `example_card` macro)."""
    return kept("example_card", card, card)


def pool_html(pool: Pool, oob: bool = False) -> Markup:
    """The model pool's section (the `pool_block` macro); `oob`: sent out of band with a gallery section."""
    content = [pool.preset_id, pool.cells, sorted(pool.holders.used.items()), sorted(pool.holders.reserved.items())]
    return kept("pool_block", pool, content, oob=oob)


def kept(macro_name: str, value: Any, content: Any, **options: Any) -> Markup:
    """`macro_name(value, token=…, **options)`, kept under the JSON of `content` (all `value` holds) and
    `options`, with this request's CSRF token filled in."""
    key = json.dumps([macro_name, content, options, request.script_root], default=str)  # dicts in a fixed order
    store = kept_parts()
    with store.lock:
        html = None if current_app.jinja_env.auto_reload else store.parts.get(key)
        store.hits += html is not None
    if html is None:
        macro = getattr(current_app.jinja_env.get_template(MACROS).module, macro_name)
        html = str(macro(value, token=TOKEN_PLACEHOLDER, **options))
        with store.lock:
            store.parts[key] = html
            store.misses += 1
    return Markup(html.replace(TOKEN_PLACEHOLDER, request_token()))


def kept_parts() -> KeptParts:
    store = current_app.extensions.get(EXTENSION)
    if store is None:
        store = current_app.extensions.setdefault(EXTENSION, KeptParts())
    return store


def request_token() -> str:
    """This request's CSRF token, made once (Flask-WTF signs it on every call)."""
    if "kept_html_token" not in g:
        g.kept_html_token = generate_csrf()
    return g.kept_html_token
