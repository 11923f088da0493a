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

from .database import db
from .models import SpendBasis, SpendEntry, utcnow

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


def charge_for(settings, provider: str, succeeded: bool, offline: bool, predict_time: float | None) -> Charge:
    """What one ended prediction costs."""
    if offline:
        return Charge(ZERO, SpendBasis.OFFLINE, predict_time)
    rate = settings.prices_per_second.get(provider)
    if rate is not None:
        amount = (usd(predict_time or 0) * usd(rate)).quantize(CENT_FRACTION, ROUND_HALF_UP)
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
