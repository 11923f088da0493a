"""Spend: what each ended prediction cost, in USD, kept in a ledger that pruning jobs never touches.

Official models (per-image prices, `PRICE_<PROVIDER>`) cost their price when the prediction succeeded
(whether or not its output could be kept) and nothing when it failed; time-billed models
(`PRICE_<PROVIDER>_PER_SECOND`) cost `metrics.predict_time x rate` whatever the outcome; offline
placeholders cost 0. A prediction stopped by a cancel or given up by recovery costs what the cancel's
answer says of it; when Replicate could not say, its estimate is recorded (basis `estimate`).

The month rule: a job's spend counts in the UTC month the job was created in, which is the month its
estimate was reserved in, even when its predictions end in the next month. So the check made in a month
sees every reservation that can still turn into that month's spend, and a month's total never passes
the limit it was checked against. (Replicate's invoice may put the last minutes of such a job in the next
month.) Items that never got a prediction cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ScalarSelect, Select, func, select

from app import provider_rows
from app.core.config import Settings
from app.core.database import db, upsert
from app.core.errors import GenerationError
from app.models import ITEM_OPEN, JOB_FINAL, Job, JobItem, SpendBasis, SpendEntry, SpendMonth, utcnow
from app.providers import catalog, pricing
from app.providers.base import Ending

ZERO = Decimal("0")
CENT_FRACTION = Decimal("0.000001")  # what the ledger keeps (Numeric(14, 6))


def usd(value: float | str | Decimal) -> Decimal:
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


def per_second(settings: Settings, provider: str, seconds: float | None) -> Decimal | None:
    """`seconds x rate` for a model billed by time, None for one billed per image."""
    rate = settings.prices_per_second.get(provider)
    if rate is None:
        return None
    return (usd(seconds or 0) * usd(rate)).quantize(CENT_FRACTION, ROUND_HALF_UP)


def own_rule(provider: str, preset_settings: dict | None) -> tuple[dict, Decimal | None] | None:
    """The provider row's own price rule and, unless it bills by the second, what one image costs under it for
    these settings (the ones a prediction is sent); None when the row has none: the PRICE_* settings price it,
    as they price the seed's four (whose rows are not read here)."""
    if provider in catalog.PROVIDERS:
        return None
    found = provider_rows.find(provider)
    if found is None or found.price is None:
        return None
    rule = found.price
    if rule["kind"] == "per_second":
        return rule, None
    return rule, pricing.image_price(rule, found.sent_settings(preset_settings), found.input_properties)


def charge_for(
    settings: Settings,
    provider: str,
    succeeded: bool,
    offline: bool,
    predict_time: float | None,
    preset_settings: dict | None = None,
) -> Charge:
    """What one ended prediction costs: by the provider row's price rule, or by the PRICE_* settings."""
    if offline:
        return Charge(ZERO, SpendBasis.OFFLINE, predict_time)
    ruled = own_rule(provider, preset_settings)
    if ruled is not None:
        rule, image = ruled
        if image is None:
            seconds = (usd(predict_time or 0) * pricing.amount(rule["usd"], "rate")).quantize(CENT_FRACTION)
            return Charge(seconds, SpendBasis.PER_SECOND, predict_time)
        return Charge(image if succeeded else ZERO, SpendBasis.PER_IMAGE, predict_time)
    amount = per_second(settings, provider, predict_time)
    if amount is not None:
        return Charge(amount, SpendBasis.PER_SECOND, predict_time)
    price = usd(settings.prices.get(provider, 0))
    return Charge(price if succeeded else ZERO, SpendBasis.PER_IMAGE, predict_time)


def add_entry(
    charge: Charge,
    *,
    month: str,
    job_id: str,
    preset_id: str,
    item_id: int,
    model_id: str,
    provider: str,
    comparison_id: str | None = None,
) -> None:
    """Add the ledger row (committed by the caller, with the item's own update). `month`: the job's."""
    now = utcnow()
    db.session.add(
        SpendEntry(
            month=month,
            job_id=job_id,
            preset_id=preset_id,
            item_id=item_id,
            model_id=model_id,
            provider=provider,
            basis=charge.basis,
            amount=charge.amount,
            predict_time=charge.predict_time,
            created_at=now,
            comparison_id=comparison_id,
        )
    )


@dataclass(frozen=True)
class JobLedger:
    """Where one job's costs go: its prices, provider, offline or not, and the month it counts in."""

    settings: Settings
    job_id: str
    preset_id: str
    provider: str
    offline: bool
    month: str
    preset_settings: dict | None = None  # the job's copy: what a price rule by setting reads
    comparison_id: str | None = None  # a comparison's job: its spend is the comparison's, apart from galleries

    @classmethod
    def of(cls, settings: Settings, job: Job) -> JobLedger:
        month = month_of(job.created_at)
        return cls(
            settings,
            job.id,
            job.preset_id,
            job.provider,
            job.offline,
            month,
            dict(job.settings or {}),
            job.comparison_id,
        )

    def ended(self, item_id: int, model_id: str, succeeded: bool, predict_time: float | None) -> None:
        """A prediction ended with this outcome (`succeeded`: as Replicate billed it)."""
        charge = charge_for(self.settings, self.provider, succeeded, self.offline, predict_time, self.preset_settings)
        self.add(item_id, model_id, charge)

    def stopped(self, item_id: int, model_id: str, ending: Ending | None) -> None:
        """A prediction stopped by a cancel or given up by recovery: what the cancel's answer says it
        cost, or its estimate (the most it can cost) when Replicate could not say."""
        if ending is None and not self.offline:
            estimate = estimate_per_item(self.settings, self.provider, False, self.preset_settings)
            charge = Charge(estimate, SpendBasis.ESTIMATE)
        else:
            succeeded, seconds = (ending.succeeded, ending.predict_time) if ending else (False, None)
            charge = charge_for(self.settings, self.provider, succeeded, self.offline, seconds, self.preset_settings)
        self.add(item_id, model_id, charge)

    def add(self, item_id: int, model_id: str, charge: Charge) -> None:
        add_entry(
            charge,
            month=self.month,
            job_id=self.job_id,
            preset_id=self.preset_id,
            item_id=item_id,
            model_id=model_id,
            provider=self.provider,
            comparison_id=self.comparison_id,
        )


def _sum(*where: Any) -> Select:
    return select(func.coalesce(func.sum(SpendEntry.amount), 0)).where(*where)


def _total(*where: Any) -> Decimal:
    return usd(db.session.scalar(_sum(*where)))


def job_spend(job_id: str) -> Decimal:
    return _total(SpendEntry.job_id == job_id)


def preset_spend(preset_id: str) -> Decimal:
    return _total(SpendEntry.preset_id == preset_id)


def preset_spend_column(preset_id: Any) -> ScalarSelect:
    """`preset_spend` as a scalar subquery on `preset_id` (a column), for a query that loads the preset too."""
    return _sum(SpendEntry.preset_id == preset_id).scalar_subquery()


def month_spend(month: str | None = None) -> Decimal:
    return _total(SpendEntry.month == (month or month_of()))


def item_spend(job_id: str) -> dict[int, Decimal]:
    """{item id: cost} of one job's ended predictions, in one query."""
    query = (
        select(SpendEntry.item_id, func.sum(SpendEntry.amount))
        .where(SpendEntry.job_id == job_id)
        .group_by(SpendEntry.item_id)
    )
    return {item_id: usd(total) for item_id, total in db.session.execute(query) if item_id is not None}


def totals_by(column: Any, ids: Iterable[str]) -> dict[str, Decimal]:
    """{id: total} of the ledger grouped by `column` (SpendEntry.job_id or .preset_id), in one query;
    ids without an entry are absent (nothing recorded yet)."""
    ids = list(ids)
    if not ids:
        return {}
    query = select(column, func.sum(SpendEntry.amount)).where(column.in_(ids)).group_by(column)
    return {key: usd(total) for key, total in db.session.execute(query)}


def as_text(amount: Decimal) -> str:
    """An amount for JSON: exact, without trailing zeros or an exponent ("0.78", "0")."""
    return format(amount.normalize(), "f")


def month_json(settings: Settings, month: str | None = None) -> dict:
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
def money(value: float | str | Decimal) -> str:
    """$0.22, $0.78, $1,234.50, $0.039, $0.0093: cents, or up to four decimals for amounts under a dollar
    that cents would round. The one formatting of money on the pages (the `usd` filter) and in messages."""
    value = usd(value)
    if value >= 1 or value == value.quantize(Decimal("0.01")):
        return f"${value:,.2f}"
    whole, _, fraction = f"{value:.4f}".partition(".")
    return f"${whole}.{fraction.rstrip('0').ljust(2, '0')}"


def spend_text(amount: Decimal | None, offline: bool = False) -> str:
    """A job's spend on a page: "$0.00 (offline)" for placeholders, "—" while nothing is recorded."""
    if offline:
        return f"{money(ZERO)} (offline)"
    return "—" if amount is None else money(amount)


def estimate_per_item(settings: Settings, provider: str, offline: bool, preset_settings: dict | None = None) -> Decimal:
    """What one item may cost at most: its image's price (by the row's rule for these settings, or PRICE_*), or
    PREDICTION_TIMEOUT x rate for a model billed by the second."""
    if offline:
        return ZERO
    ruled = own_rule(provider, preset_settings)
    if ruled is not None:
        rule, image = ruled
        if image is None:
            return (usd(settings.prediction_timeout) * pricing.amount(rule["usd"], "rate")).quantize(CENT_FRACTION)
        return image
    amount = per_second(settings, provider, settings.prediction_timeout)
    return amount if amount is not None else usd(settings.prices.get(provider, 0))


def estimate_note(settings: Settings, provider: str, offline: bool, preset_settings: dict | None = None) -> str:
    """How one image's estimate is made, for the generate form."""
    if offline:
        return "offline placeholders: nothing is billed"
    ruled = own_rule(provider, preset_settings)
    if ruled is not None:
        estimate = money(estimate_per_item(settings, provider, offline, preset_settings))
        return f"up to {estimate} per image: {pricing.describe(ruled[0])}"
    rate = settings.prices_per_second.get(provider)
    if rate is None:
        return f"{money(estimate_per_item(settings, provider, offline))} per image"
    return (
        f"up to {money(estimate_per_item(settings, provider, offline))} per image: "
        f"{settings.prediction_timeout:g} s at ${as_text(usd(rate))} a second, billed by the second it runs"
    )


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
    db.session.execute(upsert(SpendMonth, db.session).values(month=month).on_conflict_do_nothing())
    db.session.execute(select(SpendMonth.month).where(SpendMonth.month == month).with_for_update())


def reserve(settings: Settings, job: Job, items: int) -> None:
    """Reserve the job's estimate against this month's limit, or refuse with a 409 (nothing reserved).
    Runs in the transaction that creates the job, under the month's lock, so parallel requests cannot
    overshoot together. The reservation settles as items end (their actual cost goes to the ledger)."""
    reserve_all(settings, [(job, items)], "this job")


def reserve_all(settings: Settings, jobs: list[tuple[Job, int]], what: str) -> None:
    """`reserve` for several jobs asked for together (a comparison's variants): all of them fit, or none is
    reserved and the 409 names `what` ("this comparison") with its whole estimate."""
    per_item = [estimate_per_item(settings, job.provider, job.offline, job.settings) for job, _ in jobs]
    if settings.spend_limit_per_month is not None:
        limit, month = usd(settings.spend_limit_per_month), month_of(jobs[0][0].created_at)
        lock_month(month)
        spent, reserved = month_spend(month), month_reserved(month)
        left = max(ZERO, limit - spent - reserved)
        cost = sum((price * items for price, (_, items) in zip(per_item, jobs, strict=True)), ZERO)
        if cost > left:
            raise GenerationError(
                f"Over the monthly budget: {what} would cost up to {money(cost)} and only {money(left)} is left "
                f"of this month's {money(limit)} (spent {money(spent)}, reserved by running jobs {money(reserved)}). "
                "Nothing was queued.",
                409,
            )
    for price, (job, _) in zip(per_item, jobs, strict=True):
        job.reserved_per_item = price
