"""Page parts rendered once per distinct content and kept per process (least recently used first out): the
gallery's cards, the model pool and the whole gallery section.

Why: the preset page shows 50 cards, each with about ten links and five forms (curation, regenerate, release,
delete), and a pool of 72 models; rendering them was most of the page's time. Each part's markup is a pure
function of its key: the JSON of everything it shows or links to (a card's dict, including where its forms
come back to and whether it can move; the pool's models, states and holders), the macro's options and the
request's script root. The one per-request part, the CSRF token, is rendered as a placeholder and filled in on
the way out. A part that changes is a new key, so nothing kept is stale. With templates that reload while the
app runs (debug), every part is rendered every time.

The gallery section as a whole (filters, counts, the page's cards, pages) is kept too, under the preset's
gallery versions (app/gallery_versions.py: any process's change to the preset's examples is a new version, read
with the preset in the page's first query), the page's query and the running job's shown examples. A kept page
of the gallery then costs no query of its own. A kept section is rendered again at least once a minute, for what
no version says: storage's answers (whether a reference thumbnail is cached, presigned URLs) and raw SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from threading import Lock
from time import monotonic
from typing import Any

from cachetools import LRUCache
from flask import current_app, g, render_template, request
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from app.gallery.query import GalleryQuery
from app.web.admin.common import Pool
from app.web.admin.gallery_section import gallery_section

KEPT_CHARACTERS = 8_000_000  # of markup per app (keys add a fifth): 1,300 cards, or pools (36 KB), sections (310 KB)
# Filled with the token wherever it appears: in a prompt that quoted it, a viewer would see their own token,
# which their page carries anyway
TOKEN_PLACEHOLDER = "csrf-token-placeholder-3f9d2c"
EXTENSION = "kept_html"
MACROS = "admin/_macros.html"
SECTION = "admin/_gallery_section.html"
SECTION_MAX_AGE = 60  # seconds: a kept gallery section is rendered again at least this often


class KeptParts:
    """One app's kept markup, shared by its request threads."""

    def __init__(self) -> None:
        self.parts: LRUCache[str, str | tuple[str, int]] = LRUCache(maxsize=KEPT_CHARACTERS, getsizeof=markup_size)
        self.lock = Lock()
        self.hits = self.misses = 0


@dataclass(frozen=True)
class KeptSection:
    html: Markup  # with this request's CSRF token
    total: int  # the preset's examples in all (the page's head says it too)


def markup_size(part: str | tuple[str, int]) -> int:
    return len(part) if isinstance(part, str) else len(part[0])


def kept_gallery_section(
    preset_id: str,
    query: GalleryQuery,
    versions: tuple[int, int],
    *,
    live_job: str | None,
    shown: frozenset[str],
    error: str | None,
) -> KeptSection:
    """The gallery section (`gallery_section`'s context in `admin/_gallery_section.html`) and the preset's
    example count, kept under the preset's gallery `versions` and everything else the section depends on."""
    age = int(monotonic() // SECTION_MAX_AGE)
    key = repr(("gallery", preset_id, versions, query, live_job, sorted(shown), error, request.script_root, age))
    part = lookup(key)
    if not isinstance(part, tuple):
        section = gallery_section(preset_id, query, live_job=live_job, shown=shown, error=error)
        part = (
            render_template(SECTION, **section, csrf_token=placeholder_token, card_html=card_markup),
            section["counts"].total,
        )
        keep(key, part)
    html, total = part
    return KeptSection(Markup(html.replace(TOKEN_PLACEHOLDER, request_token())), total)


def placeholder_token() -> str:
    return TOKEN_PLACEHOLDER


def card_markup(card: dict[str, Any]) -> Markup:
    """A card inside a kept section: its token stays a placeholder until the section is handed out."""
    return Markup(kept_markup("example_card", card, card))


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
    return Markup(kept_markup(macro_name, value, content, **options).replace(TOKEN_PLACEHOLDER, request_token()))


def kept_markup(macro_name: str, value: Any, content: Any, **options: Any) -> str:
    """`kept`'s markup with the token placeholder still in it."""
    key = json.dumps([macro_name, content, options, request.script_root], default=str)  # dicts in a fixed order
    html = lookup(key)
    if not isinstance(html, str):
        macro = getattr(current_app.jinja_env.get_template(MACROS).module, macro_name)
        html = str(macro(value, token=TOKEN_PLACEHOLDER, **options))
        keep(key, html)
    return html


def lookup(key: str) -> str | tuple[str, int] | None:
    """The kept part, or None when there is none (or templates reload while the app runs)."""
    store = kept_parts()
    with store.lock:
        part = None if current_app.jinja_env.auto_reload else store.parts.get(key)
        store.hits += part is not None
    return part


def keep(key: str, part: str | tuple[str, int]) -> None:
    store = kept_parts()
    with store.lock:
        store.parts[key] = part
        store.misses += 1


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
