"""The Providers page: every provider row, read-only (its display name, model, state, price rule and reference
field, and the presets on it), so an admin sees what `providers add`, `retire` and `refresh` did without a shell."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from app import provider_rows
from app.core.config import Settings
from app.core.database import db
from app.models import Preset, ProviderRow
from app.providers.catalog import Provider
from app.providers.pricing import describe
from app.spend import ledger
from app.web.admin.common import services

bp = Blueprint("admin_providers", __name__, url_prefix="/admin")


@bp.get("/providers")
def providers() -> ResponseReturnValue:
    found = provider_rows.all_providers()
    settings = services().settings
    counted = db.session.execute(select(Preset.provider, func.count()).group_by(Preset.provider))
    presets = {key: count for key, count in counted}
    retrieved = {key: day for key, day in db.session.execute(select(ProviderRow.key, ProviderRow.schema_retrieved))}
    return render_template(
        "admin/providers.html",
        providers=found,
        prices={key: price_text(settings, provider) for key, provider in found.items()},
        presets=presets,
        retrieved=retrieved,
    )


def price_text(settings: Settings, provider: Provider) -> str:
    """The row's own rule in words, or what the PRICE_* settings make of a seed provider's image."""
    if provider.price:
        return describe(provider.price)
    amount = ledger.money(ledger.estimate_per_item(settings, provider.name, offline=False))
    if provider.name in settings.prices_per_second:
        return f"up to {amount} a prediction, by the second (PRICE_{provider.name}_PER_SECOND)"
    return f"{amount} per image (PRICE_{provider.name})"
