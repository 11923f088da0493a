"""The gallery's pages as the API answers them: `{items, page, perPage, total, next}` in the curated
order, `next` the address of the following page with the same filters (null on the last page).

Used by the gallery endpoint and by the preset JSON, which carries the first page.
"""

from __future__ import annotations

from flask import url_for

from app.gallery.query import GalleryQuery, curated_json, gallery_page
from app.web.context import services


def gallery_page_json(preset_id: str, query: GalleryQuery) -> dict:
    page = gallery_page(preset_id, query)
    storage = services().storage
    following = query.at_page(query.page + 1).args()
    return {
        "items": [curated_json(e, storage) for e in page.examples],
        "page": query.page,
        "perPage": query.per_page,
        "total": page.total,
        "next": url_for("api_gallery.preset_gallery", preset_id=preset_id, **following) if page.has_next else None,
    }
