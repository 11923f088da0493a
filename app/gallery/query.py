"""The gallery in the curators' order, one page at a time and filtered: what the API and the preset page show.

Order: featured, then approved, then unreviewed (rejected ones only when asked for with state=rejected);
within each group the manual position the admin set comes first, then the newest. The id breaks the last
ties, so the order is total and every example is on exactly one page.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Select, func, or_, select

from app import provider_rows
from app.core.database import db
from app.core.errors import CurationError
from app.gallery.example_json import example_json
from app.models import CURATED_ORDER, GROUP_ORDER, CurationState, GalleryExample, Job
from app.pool.registry import GENDERS
from app.storage.base import Storage

PER_PAGE_DEFAULT = 50
PER_PAGE_MAX = 100
PAGE_MAX = 1_000_000
SHOWN_STATES = GROUP_ORDER[:3]  # featured, approved, unreviewed
PUBLISHED_STATES = (CurationState.FEATURED, CurationState.APPROVED)  # what end users see (the gallery feed)
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

    def args(self, short: bool = False) -> dict[str, Any]:
        """The query string that asks for this page again (`short`: without the default page and perPage)."""
        found: dict[str, Any] = {}
        if self.page != 1 or not short:
            found["page"] = self.page
        if self.per_page != PER_PAGE_DEFAULT or not short:
            found["perPage"] = self.per_page
        for name in ("state", "gender", "provider", "job"):
            if getattr(self, name):
                found[name] = str(getattr(self, name))
        return found


@dataclass(frozen=True)
class PublishedGalleryQuery(GalleryQuery):
    """The gallery as end users see it (the consumer app's feed): featured and approved examples only, never
    filtered, in the same curated order and pages."""

    @property
    def states(self) -> tuple[CurationState, ...]:
        return PUBLISHED_STATES


def parse_gallery_query(args: Mapping[str, str], per_page_default: int = PER_PAGE_DEFAULT) -> GalleryQuery:
    """A GalleryQuery from a query string, or a 400 CurationError naming the value and what is allowed.
    An empty value means "not given" (a GET form sends every field)."""
    return GalleryQuery(
        page=whole_number(args, "page", 1, PAGE_MAX, 1),
        per_page=whole_number(args, "perPage", 1, PER_PAGE_MAX, per_page_default),
        state=curation_state(args),
        gender=one_of(args, "gender", GENDERS),
        provider=one_of(args, "provider", tuple(provider_rows.all_providers())),
        job=job_id(args),
    )


class QueryValueError(CurationError):
    """A query value that is not allowed, naming its parameter, so a filter form can mark that field."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def whole_number(args: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not WHOLE_NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
        raise QueryValueError(f"{name} must be a whole number from {low} to {high:,}, got {raw[:40]!r}.", name)
    return int(raw)


def one_of(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if raw not in allowed:
        raise QueryValueError(f"{name} must be one of {', '.join(allowed)}, got {raw[:40]!r}.", name)
    return raw


def curation_state(args: Mapping[str, str]) -> CurationState | None:
    raw = one_of(args, "state", tuple(CurationState))
    return CurationState(raw) if raw else None


def job_id(args: Mapping[str, str]) -> str | None:
    raw = (args.get("job") or "").strip()
    if raw and not JOB_ID.fullmatch(raw):
        raise QueryValueError(f"job must be a job id (letters, digits, '-' and '_'), got {raw[:40]!r}.", "job")
    return raw or None


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
    before: GalleryExample | None = None  # the example just before this page (on the previous one), if any
    after: GalleryExample | None = None  # the one just after it
    creators: dict[str, str | None] = field(default_factory=dict)  # job id -> who started it

    @property
    def has_next(self) -> bool:
        return self.query.page * self.query.per_page < self.total

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))

    @property
    def first_number(self) -> int:
        """The place of this page's first example in the whole list (1-based), for "51–100 of 152"."""
        return self.query.offset + 1

    @property
    def last_number(self) -> int:
        return self.query.offset + len(self.examples)


def gallery_page(
    preset_id: str,
    query: GalleryQuery,
    *,
    hide_job: str | None = None,
    shown: Collection[str] = (),
    counts: GalleryCounts | None = None,
) -> GalleryPage:
    """One page in the curated order, its neighbours, how many examples match in all and who started each
    example's job. `hide_job`: a running job whose examples are shown only when in `shown` (the rest come with
    its live progress). `counts`: the preset's counts when the caller has them; an unfiltered page's total is
    their sum, with no count of its own."""
    statement = matching(preset_id, query)
    if hide_job:
        statement = statement.where(
            or_(GalleryExample.job_id.is_(None), GalleryExample.job_id != hide_job, GalleryExample.id.in_(shown))
        )
    if counts is not None and not query.filtered and not hide_job:
        total = sum(counts.by_state.get(state, 0) for state in query.states)
    else:
        total = db.session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    start = max(0, query.offset - 1)
    rows = db.session.execute(
        statement.add_columns(Job.created_by)
        .outerjoin(Job, Job.id == GalleryExample.job_id)
        .order_by(*CURATED_ORDER)
        .offset(start)
        .limit(query.per_page + 1 + query.offset - start)
    ).all()
    examples = [example for example, _creator in rows]
    creators = {example.job_id: creator for example, creator in rows if example.job_id}
    before = examples.pop(0) if start < query.offset and examples else None
    after = examples[query.per_page] if len(examples) > query.per_page else None
    return GalleryPage(query, examples[: query.per_page], total, before, after, creators)


def curated_json(example: GalleryExample, storage: Storage) -> dict:
    """An example as the gallery API lists it: the common example JSON with its verdict and manual place."""
    return example_json(example, storage) | {"state": example.state, "position": example.position}


@dataclass
class GalleryCounts:
    """How many examples a preset has in each state, and how many unreviewed ones the admin has placed."""

    by_state: dict[str, int]
    placed_unreviewed: int

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    def new_examples_place(self, query: GalleryQuery) -> int | None:
        """Where a new (unreviewed, unplaced) example lands in this view's list, or None when the view does
        not show it (another state, or filtered by gender, provider or job)."""
        if query.filtered or CurationState.UNREVIEWED not in query.states:
            return None
        earlier = sum(self.by_state[s] for s in query.states if s != CurationState.UNREVIEWED)
        return earlier + self.placed_unreviewed


def gallery_counts(preset_id: str) -> GalleryCounts:
    placed = GalleryExample.position.is_not(None)
    rows = db.session.execute(
        select(GalleryExample.state, placed, func.count())
        .where(GalleryExample.preset_id == preset_id)
        .group_by(GalleryExample.state, placed)
    )
    by_state = {str(state): 0 for state in CurationState}
    placed_unreviewed = 0
    for state, is_placed, count in rows:
        by_state[state] = by_state.get(state, 0) + count
        if state == CurationState.UNREVIEWED and is_placed:
            placed_unreviewed += count
    return GalleryCounts(by_state, placed_unreviewed)
