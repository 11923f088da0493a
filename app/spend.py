"""Spend: what each ended prediction cost, in USD, kept in a ledger that pruning jobs never touches.

Official models (per-image prices, `PRICE_<PROVIDER>`) cost their price when the prediction succeeded
and nothing when it failed; time-billed models (`PRICE_<PROVIDER>_PER_SECOND`) cost
`metrics.predict_time x rate` whatever the outcome; offline placeholders cost 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .database import db
from .errors import GenerationError
from .models import ITEM_OPEN, JOB_FINAL, Job, JobItem, SpendBasis, SpendEntry, SpendMonth, utcnow

ZERO = Decimal("0")
CENT_FRACTION = Decimal("0.000001")  # what the ledger keeps (Numeric(14, 6))


def usd(value) -> Decimal:
    """A price from the settings (float or text) as an exact Decimal."""
    return Decimal(str(value))


def month_of(moment: datetime | None = None) -> str:
    """The UTC month a moment belongs to, as YYYY-MM."""
    return (moment or utcnow()).strftime("%Y-%m")


@dataclass(frozen=True)
class Charge:
    amount: Decimal
    basis: SpendBasis
    predict_time: float | None = None


def per_second(settings, provider: str, seconds: float | None) -> Decimal | None:
    """`seconds x rate` for a model billed by time, None for one billed per image."""
    rate = settings.prices_per_second.get(provider)
    if rate is None:
        return None
    return (usd(seconds or 0) * usd(rate)).quantize(CENT_FRACTION, ROUND_HALF_UP)


def charge_for(settings, provider: str, succeeded: bool, offline: bool, predict_time: float | None) -> Charge:
    """What one ended prediction costs."""
    if offline:
        return Charge(ZERO, SpendBasis.OFFLINE, predict_time)
    amount = per_second(settings, provider, predict_time)
    if amount is not None:
        return Charge(amount, SpendBasis.PER_SECOND, predict_time)
    price = usd(settings.prices.get(provider, 0))
    return Charge(price if succeeded else ZERO, SpendBasis.PER_IMAGE, predict_time)


def add_entry(charge: Charge, *, job_id: str, preset_id: str, item_id: int, model_id: str, provider: str) -> None:
    """Add the ledger row (committed by the caller, with the item's own update)."""
    now = utcnow()
    db.session.add(
        SpendEntry(
            month=month_of(now),
            job_id=job_id,
            preset_id=preset_id,
            item_id=item_id,
            model_id=model_id,
            provider=provider,
            basis=charge.basis,
            amount=charge.amount,
            predict_time=charge.predict_time,
            created_at=now,
        )
    )


def _total(*where) -> Decimal:
    return usd(db.session.scalar(select(func.coalesce(func.sum(SpendEntry.amount), 0)).where(*where)))


def job_spend(job_id: str) -> Decimal:
    return _total(SpendEntry.job_id == job_id)


def preset_spend(preset_id: str) -> Decimal:
    return _total(SpendEntry.preset_id == preset_id)


def month_spend(month: str | None = None) -> Decimal:
    return _total(SpendEntry.month == (month or month_of()))


def as_text(amount: Decimal) -> str:
    """An amount for JSON: exact, without trailing zeros or an exponent ("0.78", "0")."""
    return format(amount.normalize(), "f")


def month_json(settings, month: str | None = None) -> dict:
    """This month's spend and reservations against the limit (USD, as exact text)."""
    month = month or month_of()
    spent, reserved = month_spend(month), month_reserved(month)
    limit = None if settings.spend_limit_per_month is None else usd(settings.spend_limit_per_month)
    left = None if limit is None else max(ZERO, limit - spent - reserved)
    return {
        "month": month,
        "spentUsd": as_text(spent),
        "reservedUsd": as_text(reserved),
        "limitUsd": None if limit is None else as_text(limit),
        "leftUsd": None if left is None else as_text(left),
    }


# -- the monthly budget ------------------------------------------------------------------------------
def money(value: Decimal) -> str:
    """$0.22, $0.78, $0.0093: cents, or four decimals for amounts under a cent."""
    return f"${value:.2f}" if value == value.quantize(Decimal("0.01")) or value >= 1 else f"${value:.4f}"


def estimate_per_item(settings, provider: str, offline: bool) -> Decimal:
    """What one item may cost at most: an official model's price, or PREDICTION_TIMEOUT x rate."""
    if offline:
        return ZERO
    amount = per_second(settings, provider, settings.prediction_timeout)
    return amount if amount is not None else usd(settings.prices.get(provider, 0))


def month_reserved(month: str) -> Decimal:
    """The estimates still reserved by this month's unfinished jobs: per-item estimate x open items."""
    start = datetime.strptime(month, "%Y-%m")
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    query = (
        select(func.coalesce(func.sum(Job.reserved_per_item), 0))
        .select_from(JobItem)
        .join(Job, Job.id == JobItem.job_id)
        .where(Job.created_at >= start, Job.created_at < end, Job.status.not_in(JOB_FINAL))
        .where(JobItem.state.in_(ITEM_OPEN), Job.reserved_per_item.is_not(None))
    )
    return usd(db.session.scalar(query))


def lock_month(month: str) -> None:
    """Hold the month's budget row until the transaction ends: one check-and-reserve at a time."""
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(SpendMonth).values(month=month).on_conflict_do_nothing())
    db.session.execute(select(SpendMonth.month).where(SpendMonth.month == month).with_for_update())


def reserve(settings, job: Job, items: int) -> None:
    """Reserve the job's estimate against this month's limit, or refuse with a 409 (nothing reserved).
    Runs in the transaction that creates the job, under the month's lock, so parallel requests cannot
    overshoot together. The reservation settles as items end (their actual cost goes to the ledger)."""
    per_item = estimate_per_item(settings, job.provider, job.offline)
    if settings.spend_limit_per_month is None:
        job.reserved_per_item = per_item
        return
    limit, month = usd(settings.spend_limit_per_month), month_of(job.created_at)
    lock_month(month)
    spent, reserved = month_spend(month), month_reserved(month)
    left = max(ZERO, limit - spent - reserved)
    cost = per_item * items
    if cost > left:
        raise GenerationError(
            f"Over the monthly budget: this job would cost up to {money(cost)} and only {money(left)} is left "
            f"of this month's {money(limit)} (spent {money(spent)}, reserved by running jobs {money(reserved)}). "
            "Nothing was queued.",
            409,
        )
    job.reserved_per_item = per_item
