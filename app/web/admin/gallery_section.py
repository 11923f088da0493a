"""The preset page's gallery section: one page of examples in the curated order with the page's filters,
each card with its verdict and whether it can move earlier or later, and where the examples of a running
job appear while it runs. Rendered inside the page, and alone for htmx (filters, pages, curation forms).
"""

from __future__ import annotations

from typing import Any, cast

from flask import request, url_for

from app import provider_rows
from app.core.errors import CurationError
from app.gallery.query import (
    GalleryCounts,
    GalleryPage,
    GalleryQuery,
    QueryValueError,
    gallery_counts,
    gallery_page,
)
from app.models import CurationState, GalleryExample
from app.pool.registry import GENDERS
from app.web.admin.cards import Card, card_of_row, view_url_template
from app.web.admin.common import is_htmx
from app.web.admin.form_errors import FieldError, FormErrors

TARGET = "gallery-section"  # the section's id: htmx requests aimed at it get the section alone
FILTERS = {"state": "State", "gender": "Gender", "provider": "Provider", "job": "Job"}  # the filter form's fields


def filter_error(exc: CurationError) -> FieldError:
    """A refused gallery query as the filter form shows it: beside its filter (`filter-job`), or above the
    gallery alone when it names no filter (a page number typed into the address)."""
    param = exc.param if isinstance(exc, QueryValueError) else ""
    return FieldError(f"filter-{param}" if param in FILTERS else "", FILTERS.get(param, ""), exc.message)


def filter_errors(error: FieldError | None) -> FormErrors:
    errors = FormErrors()
    if error and error.field_id:
        errors.fields.append(error)
    elif error:
        errors.general.append(error.message)
    return errors


def gallery_section(
    preset_id: str,
    query: GalleryQuery,
    *,
    live_job: str | None = None,
    shown: frozenset[str] = frozenset(),
    error: FieldError | None = None,
) -> dict[str, Any]:
    """The template context of `admin/_gallery_page.html`. `live_job` / `shown`: a running job's examples
    are shown only when its progress record already listed them; the others come with the live progress."""
    counts = gallery_counts(preset_id)
    page = gallery_page(preset_id, query, hide_job=live_job, shown=shown, counts=counts)
    back = page_url(preset_id, query)
    return {
        "preset_id": preset_id,
        "query": query,
        "page": page,
        "counts": counts,
        "cards": cards_of(page),
        "new_at": new_examples_index(page, counts),
        "back": back,
        "previous_url": page_url(preset_id, query.at_page(query.page - 1)) if query.page > 1 else None,
        "next_url": page_url(preset_id, query.at_page(query.page + 1)) if page.has_next else None,
        "all_url": url_for("admin_presets.preset", preset_id=preset_id),
        "filter_errors": filter_errors(error),
        "curation_states": tuple(CurationState),
        "genders": GENDERS,
        "providers": provider_rows.all_providers(),
    }


def wants_section() -> bool:
    """An htmx request aimed at the gallery section (htmx-flask's `request.htmx` has no types)."""
    return is_htmx() and cast(Any, request).htmx.target == TARGET


def page_url(preset_id: str, query: GalleryQuery) -> str:
    return url_for("admin_presets.preset", preset_id=preset_id, **query.args(short=True))


def cards_of(page: GalleryPage) -> list[Card]:
    """Each example's card, with whether it is the first or last of its group (known from the page and its
    neighbours unless filters hide some of the group)."""
    if not page.examples:
        return []
    row: list[GalleryExample | None] = [page.before, *page.examples, page.after]
    view_url = view_url_template(page.examples[0].preset_id)
    cards = []
    for n, example in enumerate(page.examples, start=1):
        if page.query.filtered:  # its neighbours here need not be its neighbours in the group
            cards.append(card_of_row(example, view_url))
        else:
            first, last = at_edge(example, row[n - 1]), at_edge(example, row[n + 1])
            cards.append(card_of_row(example, view_url, first=first, last=last))
    return cards


def at_edge(example: GalleryExample, neighbour: GalleryExample | None) -> bool:
    return neighbour is None or neighbour.state != example.state


def new_examples_index(page: GalleryPage, counts: GalleryCounts) -> int | None:
    """Where on this page a running job's new examples appear (before the first unplaced unreviewed one),
    or None when they belong on another page or outside these filters."""
    place = counts.new_examples_place(page.query)
    if place is None or not page.query.offset <= place <= page.query.offset + len(page.examples):
        return None
    return place - page.query.offset
