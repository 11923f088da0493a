"""The database tables (the name is the ORM's: reference models are the `pool`'s, Replicate's models the `providers`'):
presets, model usage, jobs with their items, the gallery and the spend ledger.

The job and its items are the durable truth of a generation; Redis only mirrors
progress for fast polling. The gallery is one row per image rather than a JSON list,
so concurrent jobs can never overwrite each other's examples.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Numeric,
    ScalarSelect,
    Select,
    String,
    Text,
    UniqueConstraint,
    case,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import Grouping

from app.core.database import Model, db

JsonType = JSON().with_variant(JSONB(), "postgresql")
PROVIDER_KEY_LENGTH = 64  # a provider's key: the seed's NANO_BANANA or a model's name in upper snake case


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELED = "canceled"


class ItemState(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class SpendBasis(StrEnum):
    PER_IMAGE = "per_image"  # official models: the price of an output image, nothing when it failed
    PER_SECOND = "per_second"  # time-billed models: metrics.predict_time x rate, whatever the outcome
    OFFLINE = "offline"  # placeholders: never billed
    ESTIMATE = "estimate"  # stopped while Replicate could not say how it ended: the most it can cost


class CurationState(StrEnum):
    """A curator's verdict on an example; the gallery shows featured, then approved, then unreviewed."""

    UNREVIEWED = "unreviewed"
    APPROVED = "approved"
    FEATURED = "featured"
    REJECTED = "rejected"  # hidden unless asked for


class UsageState(StrEnum):
    RESERVED = "reserved"  # held by a job that has not ended
    USED = "used"  # the model got at least one example for this preset


JOB_LIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
JOB_FINAL = (JobStatus.SUCCEEDED, JobStatus.PARTIAL, JobStatus.FAILED, JobStatus.CANCELED)
ITEM_OPEN = (ItemState.PENDING, ItemState.PROCESSING)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex


def iso(value: datetime | None) -> str | None:
    return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z") if value else None


class Preset(Model):
    __tablename__ = "presets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    prompt: Mapped[str] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(String(PROVIDER_KEY_LENGTH), default="NANO_BANANA")
    settings: Mapped[dict] = mapped_column(JsonType, default=dict)
    last_generated: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))  # who: an admin's email or "token NAME"
    updated_by: Mapped[str | None] = mapped_column(String(200))

    examples: Mapped[list[GalleryExample]] = relationship(
        back_populates="preset",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="GalleryExample.created_at.desc()",
    )
    model_usage: Mapped[list[PresetModelUsage]] = relationship(
        back_populates="preset", cascade="all, delete-orphan", passive_deletes=True
    )
    jobs: Mapped[list[Job]] = relationship(back_populates="preset", cascade="all, delete-orphan", passive_deletes=True)


class PresetModelUsage(Model):
    """A model taken by a preset: `reserved` while a job works on it, `used` once it has an example."""

    __tablename__ = "preset_model_usage"
    __table_args__ = (UniqueConstraint("preset_id", "model_id", name="uq_preset_model_usage_preset_model"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    preset_id: Mapped[str] = mapped_column(ForeignKey("presets.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="reserved")
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    used_at: Mapped[datetime] = mapped_column(default=utcnow)

    preset: Mapped[Preset] = relationship(back_populates="model_usage")


class Job(Model):
    """One click of Generate Examples; prompt, provider and settings are copied at request time."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_heartbeat", "status", "heartbeat_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    preset_id: Mapped[str] = mapped_column(ForeignKey("presets.id", ondelete="CASCADE"), index=True)
    examples_per_model: Mapped[int] = mapped_column(default=1)
    prompt: Mapped[str] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(String(PROVIDER_KEY_LENGTH))
    settings: Mapped[dict] = mapped_column(JsonType, default=dict)
    offline: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    # Recovery bookkeeping: which worker holds the job (its lease lasts while heartbeat_at is fresh),
    # whether an admin asked to cancel, and how often the sweep re-queued it without progress.
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    requeues: Mapped[int] = mapped_column(default=0)
    stalled_requeues: Mapped[int] = mapped_column(default=0)
    progress_mark: Mapped[int] = mapped_column(default=0)
    requeued_at: Mapped[datetime | None]
    # the estimate reserved per item against the monthly budget (USD); released as each item ends
    reserved_per_item: Mapped[Decimal | None] = mapped_column(Numeric(14, 6))
    retry_of: Mapped[str | None] = mapped_column(String(32))
    regenerate_of: Mapped[str | None] = mapped_column(String(32))  # the example a one-item redo replaces
    created_by: Mapped[str | None] = mapped_column(String(200))  # who started it: an admin's email or "token NAME"
    # a comparison's job makes one variant's cells: no gallery rows, no model usage (app.comparisons)
    comparison_id: Mapped[str | None] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"), index=True)

    preset: Mapped[Preset] = relationship(back_populates="jobs")
    items: Mapped[list[JobItem]] = relationship(
        back_populates="job",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(JobItem.gender.desc(), JobItem.model_id, JobItem.example_index)",
    )

    @property
    def is_live(self) -> bool:
        return self.status in JOB_LIVE

    @property
    def canceled(self) -> int:
        """Items that ended canceled: every item of an ended job that was neither stored nor failed."""
        return 0 if self.is_live else max(0, self.total - self.done - self.failed)


class JobItem(Model):
    """One prediction of a job: a (model, example index) pair and what became of it."""

    __tablename__ = "job_items"
    __table_args__ = (
        UniqueConstraint("job_id", "model_id", "example_index", name="uq_job_items_job_model_index"),
        # the latest durations of a provider, read at each job's start (generation.rows.recent_durations)
        Index("ix_job_items_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[str] = mapped_column(String(64))
    gender: Mapped[str] = mapped_column(String(8))
    reference_url: Mapped[str] = mapped_column(Text)
    example_index: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    prediction_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    example_id: Mapped[str | None] = mapped_column(ForeignKey("gallery_examples.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # create to completion of its prediction, as the provider timed it: when to read the next ones
    prediction_seconds: Mapped[float | None]

    job: Mapped[Job] = relationship(back_populates="items")

    @property
    def key(self) -> str:
        return f"{self.model_id}#{self.example_index}"


class SmallerSizes:
    """A stored output's smaller sizes next to the original (app/storage/sizes.py), with their pixel sizes so a
    grid sets width, height and srcset without asking storage; None until made (an older row, or a failed resize:
    the backfill). Gallery examples and comparison cells both have them."""

    thumb_path: Mapped[str | None] = mapped_column(String(500))
    thumb_width: Mapped[int | None] = mapped_column()
    thumb_height: Mapped[int | None] = mapped_column()
    medium_path: Mapped[str | None] = mapped_column(String(500))
    medium_width: Mapped[int | None] = mapped_column()
    medium_height: Mapped[int | None] = mapped_column()


class GalleryExample(SmallerSizes, Model):
    """One generated image, stored in our media storage (never the provider's expiring URL)."""

    __tablename__ = "gallery_examples"
    __table_args__ = (
        UniqueConstraint("job_id", "model_id", "example_index", name="uq_gallery_examples_job_model_index"),
        Index("ix_gallery_examples_preset_created", "preset_id", "created_at"),
        Index("ix_gallery_examples_preset_state", "preset_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    preset_id: Mapped[str] = mapped_column(ForeignKey("presets.id", ondelete="CASCADE"))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    model_id: Mapped[str] = mapped_column(String(64))
    gender: Mapped[str] = mapped_column(String(8))
    example_index: Mapped[int] = mapped_column(default=0)
    provider: Mapped[str] = mapped_column(String(PROVIDER_KEY_LENGTH))
    prompt: Mapped[str] = mapped_column(Text)
    image_path: Mapped[str] = mapped_column(String(500))
    prediction_id: Mapped[str | None] = mapped_column(String(64))
    offline: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What made it, kept so a later change to the preset does not rewrite history.
    model_version: Mapped[str | None] = mapped_column(String(200))  # "owner/name" or "owner/name:version"
    settings: Mapped[dict | None] = mapped_column(JsonType)
    # Curation: the verdict and the admin's manual order within it (None: after the placed ones, newest first).
    state: Mapped[str] = mapped_column(String(16), default=CurationState.UNREVIEWED, server_default="unreviewed")
    position: Mapped[int | None] = mapped_column()

    preset: Mapped[Preset] = relationship(back_populates="examples")


# The gallery's order: group (featured, approved, unreviewed, then rejected), placed before unplaced, position,
# newest first, id. The first two keys' values are written into the SQL, not bound, so PostgreSQL matches the
# ORDER BY of the queries that use CURATED_ORDER (the gallery's pages, moves and neighbours) to this index and
# reads a page off it instead of sorting the whole gallery; migration 0010 creates it with the same text.
GROUP_ORDER = (CurationState.FEATURED, CurationState.APPROVED, CurationState.UNREVIEWED, CurationState.REJECTED)
CURATED_RANK = case(
    *(
        (GalleryExample.state == literal_column(f"'{state}'"), literal_column(str(n)))
        for n, state in enumerate(GROUP_ORDER)
    ),
    else_=literal_column(str(len(GROUP_ORDER))),
)
UNPLACED = case((GalleryExample.position.is_(None), literal_column("1")), else_=literal_column("0"))
CURATED_ORDER = (
    CURATED_RANK,
    UNPLACED,
    GalleryExample.position,
    GalleryExample.created_at.desc(),
    GalleryExample.id.desc(),
)
Index(  # PostgreSQL wants each expression of an index in parentheses
    "ix_gallery_examples_curated_order",
    GalleryExample.preset_id,
    *(Grouping(key) for key in (CURATED_RANK, UNPLACED)),
    *CURATED_ORDER[2:],
)


class SpendMonth(Model):
    """One row per UTC month, locked while a request checks the budget and reserves its estimate."""

    __tablename__ = "spend_months"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)


class SpendEntry(Model):
    """What one ended prediction cost (USD). A ledger: no foreign keys, so `jobs prune` keeps it."""

    __tablename__ = "spend_entries"
    __table_args__ = (Index("ix_spend_entries_month", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM in UTC
    job_id: Mapped[str | None] = mapped_column(String(32), index=True)
    preset_id: Mapped[str | None] = mapped_column(String(32), index=True)
    item_id: Mapped[int | None]
    model_id: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(PROVIDER_KEY_LENGTH))
    basis: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 6))
    predict_time: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    comparison_id: Mapped[str | None] = mapped_column(String(32), index=True)  # spent on a comparison, not a gallery


class ProviderRow(Model):
    """One image model a preset can run (`app.provider_rows` turns it into a `catalog.Provider`): the model, its
    input-schema snapshot (where and when it was read), the reference-photo field, the app's defaults and fixed
    inputs, its price rule and whether it is still offered. `id` keeps the order they were added in."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(PROVIDER_KEY_LENGTH), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(String(200))  # owner/name
    version: Mapped[str | None] = mapped_column(String(100))  # pinned version: created by version hash
    schema_source: Mapped[str] = mapped_column(Text)
    schema_retrieved: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD
    input_schema: Mapped[dict] = mapped_column(JsonType)
    image_field: Mapped[str] = mapped_column(String(100))
    image_as_list: Mapped[bool] = mapped_column(default=False)
    output_is_list: Mapped[bool] = mapped_column(default=False)
    defaults: Mapped[dict] = mapped_column(JsonType, default=dict)
    managed: Mapped[list] = mapped_column(JsonType, default=list)  # inputs the app fixes besides prompt and photo
    narrowed: Mapped[dict] = mapped_column(JsonType, default=dict)  # stricter rules than the schema's
    price: Mapped[dict | None] = mapped_column(JsonType)  # the price rule; None: the PRICE_* settings
    state: Mapped[str] = mapped_column(String(16), default="active")  # active, disabled (shipped off) or retired
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Comparison(Model):
    """A preset tried on 2–4 variants (provider, settings, prompt) over a few reference models, judged blind; its
    outputs are cells, never gallery rows, until an admin adopts a variant and picks the cells to keep."""

    __tablename__ = "comparisons"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    preset_id: Mapped[str] = mapped_column(ForeignKey("presets.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))
    canceled_at: Mapped[datetime | None]
    canceled_by: Mapped[str | None] = mapped_column(String(200))
    adopted_variant_id: Mapped[str | None] = mapped_column(String(32))
    adopted_at: Mapped[datetime | None]
    adopted_by: Mapped[str | None] = mapped_column(String(200))

    preset: Mapped[Preset] = relationship()
    cells: Mapped[list[ComparisonCell]] = relationship(viewonly=True, order_by="ComparisonCell.id")
    variants: Mapped[list[ComparisonVariant]] = relationship(
        back_populates="comparison",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ComparisonVariant.position",
    )


class ComparisonVariant(Model):
    """One column of a comparison: what its job runs, copied when the comparison was asked for."""

    __tablename__ = "comparison_variants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    comparison_id: Mapped[str] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()  # 0 = A, 1 = B, …
    provider: Mapped[str] = mapped_column(String(PROVIDER_KEY_LENGTH))
    settings: Mapped[dict] = mapped_column(JsonType, default=dict)
    prompt: Mapped[str] = mapped_column(Text)
    is_current: Mapped[bool] = mapped_column(default=False)  # the preset as it was when the comparison began
    job_id: Mapped[str | None] = mapped_column(String(32))

    comparison: Mapped[Comparison] = relationship(back_populates="variants")

    @property
    def label(self) -> str:
        return "ABCD"[self.position]


class ComparisonCell(SmallerSizes, Model):
    """One variant's output for one reference model. Its id is random and its image is stored under
    comparisons/<comparison>/<cell id>, so neither says which variant made it (the blind review shows them)."""

    __tablename__ = "comparison_cells"
    __table_args__ = (UniqueConstraint("variant_id", "model_id", name="uq_comparison_cells_variant_model"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    comparison_id: Mapped[str] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[str] = mapped_column(ForeignKey("comparison_variants.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("job_items.id", ondelete="SET NULL"), unique=True)
    model_id: Mapped[str] = mapped_column(String(64))
    gender: Mapped[str] = mapped_column(String(8))
    reference_url: Mapped[str] = mapped_column(Text)
    image_path: Mapped[str | None] = mapped_column(String(500))  # None until its output is stored
    prediction_id: Mapped[str | None] = mapped_column(String(64))
    prediction_seconds: Mapped[float | None]  # time to result: create to completion, as Replicate timed it
    model_version: Mapped[str | None] = mapped_column(String(200))
    sent_settings: Mapped[dict | None] = mapped_column(JsonType)
    offline: Mapped[bool] = mapped_column(default=False)


class VoteVerdict(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    BOTH_GOOD = "both_good"
    BOTH_BAD = "both_bad"


class ComparisonVote(Model):
    """One blind judgement of two cells made for the same reference model by two variants."""

    __tablename__ = "comparison_votes"

    id: Mapped[int] = mapped_column(primary_key=True)  # the order votes were cast in: the Elo rating's order
    comparison_id: Mapped[str] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"), index=True)
    left_cell_id: Mapped[str] = mapped_column(ForeignKey("comparison_cells.id", ondelete="CASCADE"))
    right_cell_id: Mapped[str] = mapped_column(ForeignKey("comparison_cells.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(16))
    voter: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- a preset's live jobs: what deleting a preset or clearing its usage waits for --------------------------------
def live_jobs(preset_id: Any) -> Select:
    """The preset's queued or running gallery jobs (a comparison's are its own), newest first; `preset_id` a value
    or a column (a subquery's)."""
    return (
        select(Job)
        .where(Job.preset_id == preset_id, Job.status.in_(JOB_LIVE), Job.comparison_id.is_(None))
        .order_by(Job.created_at.desc())
    )


def live_job_for_preset(preset_id: str) -> Job | None:
    return db.session.scalars(live_jobs(preset_id).limit(1)).first()


def live_job_id_column(preset_id: Any) -> ScalarSelect:
    """The id `live_job_for_preset` finds, as a scalar subquery on `preset_id` (a column)."""
    return live_jobs(preset_id).with_only_columns(Job.id).limit(1).scalar_subquery()
