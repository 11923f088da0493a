"""The gallery in the curators' order, one page at a time and filtered: what the API and the preset page show.

Order: featured, then approved, then unreviewed (rejected ones only when asked for with state=rejected);
within each group the manual position the admin set comes first, then the newest. The id breaks the last
ties, so the order is total and every example is on exactly one page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy import Select, case, func, select

from .database import db
from .errors import CurationError
from .gallery import example_json
from .models import CurationState, GalleryExample
from .providers.catalog import PROVIDERS
from .registry import GENDERS
from .storage.base import Storage

PER_PAGE_DEFAULT = 50
PER_PAGE_MAX = 100
PAGE_MAX = 1_000_000
SHOWN_STATES = (CurationState.FEATURED, CurationState.APPROVED, CurationState.UNREVIEWED)
GROUP_RANK = {state: rank for rank, state in enumerate((*SHOWN_STATES, CurationState.REJECTED))}
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class GalleryQuery:
    """Which examples, which page: the API's query string (page, perPage, state, gender, provider, job)."""

    page: int = 1
    per_page: int = PER_PAGE_DEFAULT
    state: CurationState | None = None  # None: every state but rejected
    gender: str | None = None
    provider: str | None = None
    job: str | None = None

    @property
    def states(self) -> tuple[CurationState, ...]:
        return (self.state,) if self.state else SHOWN_STATES

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def filtered(self) -> bool:
        """Filters beyond the state: the page then shows a subset of each group."""
        return bool(self.gender or self.provider or self.job)

    def at_page(self, page: int) -> GalleryQuery:
        return replace(self, page=page)

    def args(self, short: bool = False) -> dict[str, str | int]:
        """The query string that asks for this page again (`short`: without the default page and perPage)."""
        found: dict[str, str | int] = {}
        if self.page != 1 or not short:
            found["page"] = self.page
        if self.per_page != PER_PAGE_DEFAULT or not short:
            found["perPage"] = self.per_page
        for name in ("state", "gender", "provider", "job"):
            if getattr(self, name):
                found[name] = str(getattr(self, name))
        return found


def parse_gallery_query(args: Mapping[str, str], per_page_default: int = PER_PAGE_DEFAULT) -> GalleryQuery:
    """A GalleryQuery from a query string, or a 400 CurationError naming the value and what is allowed.
    An empty value means "not given" (a GET form sends every field)."""
    return GalleryQuery(
        page=whole_number(args, "page", 1, PAGE_MAX, 1),
        per_page=whole_number(args, "perPage", 1, PER_PAGE_MAX, per_page_default),
        state=curation_state(args),
        gender=one_of(args, "gender", GENDERS),
        provider=one_of(args, "provider", tuple(PROVIDERS)),
        job=job_id(args),
    )


def whole_number(args: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not WHOLE_NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
        raise CurationError(f"{name} must be a whole number from {low} to {high:,}, got {raw[:40]!r}.")
    return int(raw)


def one_of(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if raw not in allowed:
        raise CurationError(f"{name} must be one of {', '.join(allowed)}, got {raw[:40]!r}.")
    return raw


def curation_state(args: Mapping[str, str]) -> CurationState | None:
    raw = one_of(args, "state", tuple(CurationState))
    return CurationState(raw) if raw else None


def job_id(args: Mapping[str, str]) -> str | None:
    raw = (args.get("job") or "").strip()
    if raw and not JOB_ID.fullmatch(raw):
        raise CurationError(f"job must be a job id (letters, digits, '-' and '_'), got {raw[:40]!r}.")
    return raw or None


def curated_order(descending: bool = False) -> list:
    """ORDER BY for the curated order (or exactly its reverse): group, placed before unplaced, position,
    newest first, id."""
    rank = case(GROUP_RANK, value=GalleryExample.state, else_=len(GROUP_RANK))
    unplaced = case((GalleryExample.position.is_(None), 1), else_=0)
    if descending:
        return [
            rank.desc(),
            unplaced.desc(),
            GalleryExample.position.desc(),
            GalleryExample.created_at,
            GalleryExample.id,
        ]
    return [rank, unplaced, GalleryExample.position, GalleryExample.created_at.desc(), GalleryExample.id.desc()]


def matching(preset_id: str, query: GalleryQuery) -> Select:
    statement = select(GalleryExample).where(
        GalleryExample.preset_id == preset_id, GalleryExample.state.in_(query.states)
    )
    if query.gender:
        statement = statement.where(GalleryExample.gender == query.gender)
    if query.provider:
        statement = statement.where(GalleryExample.provider == query.provider)
    if query.job:
        statement = statement.where(GalleryExample.job_id == query.job)
    return statement


@dataclass
class GalleryPage:
    query: GalleryQuery
    examples: list[GalleryExample]
    total: int

    @property
    def has_next(self) -> bool:
        return self.query.page * self.query.per_page < self.total

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))

    @property
    def first_number(self) -> int:
        """The place of this page's first example in the whole list (1-based), for "41–50 of 152"."""
        return self.query.offset + 1


def gallery_page(preset_id: str, query: GalleryQuery) -> GalleryPage:
    """One page in the curated order, and how many examples match in all."""
    statement = matching(preset_id, query)
    total = db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    rows = db.session.scalars(statement.order_by(*curated_order()).offset(query.offset).limit(query.per_page))
    return GalleryPage(query, list(rows), total)


def group_edges(preset_id: str, states) -> dict[str, tuple[str | None, str | None]]:
    """{state: (id of its first example, id of its last)} in the curated order: where "move earlier / later"
    cannot go."""
    edges = {}
    for state in states:
        group = select(GalleryExample.id).where(GalleryExample.preset_id == preset_id, GalleryExample.state == state)
        first = db.session.scalar(group.order_by(*curated_order()).limit(1))
        last = db.session.scalar(group.order_by(*curated_order(descending=True)).limit(1))
        edges[str(state)] = (first, last)
    return edges


def curated_json(example: GalleryExample, storage: Storage) -> dict:
    """An example as the gallery API lists it: the common example JSON with its verdict and manual place."""
    return example_json(example, storage) | {"state": example.state, "position": example.position}


def count_by_state(preset_id: str) -> dict[str, int]:
    rows = db.session.execute(
        select(GalleryExample.state, func.count())
        .where(GalleryExample.preset_id == preset_id)
        .group_by(GalleryExample.state)
    )
    found = {str(state): 0 for state in CurationState}
    found.update({state: count for state, count in rows})
    return found
