"""Price rules (issue 35, acceptance 2): a per-image rule, a per-image-by-setting rule and a per-megapixel rule
each give the estimate, the reservation and the ledger the test's own computation, for two settings each."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app import provider_rows
from app.core.database import db
from app.models import Job, ProviderRow, SpendBasis
from app.providers import schemas
from app.providers.proposal import propose
from app.spend import ledger
from tests.replicate_server import ReplicateServer

MODEL = "acme/portrait-editor"
RULES = {
    "ACME_FLAT": {"kind": "per_image", "usd": "0.03"},
    "ACME_BY_SIZE": {
        "kind": "per_image_by_setting",
        "setting": "megapixels",
        "usd": {"0.25": "0.02", "1": "0.04", "4": "0.12"},
    },
    "ACME_PER_MP": {
        "kind": "per_megapixel",
        "usd_per_megapixel": "0.015",
        "usd_per_run": "0.015",
        "setting": "megapixels",
        "input_megapixels": "1",
    },
}
# (preset settings, what one image costs) for each rule, computed here by hand
EXPECTED = {
    "ACME_FLAT": [({"megapixels": "1"}, Decimal("0.03")), ({"megapixels": "4"}, Decimal("0.03"))],
    "ACME_BY_SIZE": [({"megapixels": "0.25"}, Decimal("0.02")), ({"megapixels": "4"}, Decimal("0.12"))],
    # 0.015 a run + 0.015 x (1 MP in + N MP out)
    "ACME_PER_MP": [({}, Decimal("0.045")), ({"megapixels": "4"}, Decimal("0.09"))],
}


@pytest.fixture
def priced_app(make_app):
    app = make_app(SPEND_LIMIT_PER_MONTH="100")
    with ReplicateServer() as server:
        input_schema = server.resolved_input_schema(MODEL)
    with app.app_context():
        for key, rule in RULES.items():
            snapshot = schemas.Snapshot(key, MODEL, None, "https://example.test", "2026-12-06", input_schema)
            db.session.add(provider_rows.row_of(propose(snapshot, key, price=rule).provider, snapshot))
        db.session.commit()
    return app


@pytest.mark.parametrize("key", list(RULES))
def test_estimate_reservation_and_ledger_follow_the_rule(priced_app, key):
    settings = priced_app.extensions["pixelglow"].settings
    for preset_settings, price in EXPECTED[key]:
        with priced_app.app_context():
            assert ledger.estimate_per_item(settings, key, False, preset_settings) == price
            job = Job(preset_id="p" * 32, prompt="p", provider=key, settings=preset_settings, offline=False)
            job.created_at = ledger.utcnow()
            ledger.reserve(settings, job, 20)
            assert job.reserved_per_item == price
            billed = ledger.charge_for(settings, key, True, False, 3.2, preset_settings)
            assert (billed.amount, billed.basis) == (price, SpendBasis.PER_IMAGE)
            assert ledger.charge_for(settings, key, False, False, 3.2, preset_settings).amount == 0
            db.session.rollback()


def test_a_rule_by_setting_must_price_every_value(priced_app):
    with priced_app.app_context():
        row = db.session.scalar(select(ProviderRow).where(ProviderRow.key == "ACME_FLAT"))
        snapshot = schemas.Snapshot("X", MODEL, None, "s", "2026-12-06", row.input_schema)
    rule = {"kind": "per_image_by_setting", "setting": "megapixels", "usd": {"1": "0.04"}}
    with pytest.raises(ValueError, match="no price for megapixels=0.25, 4"):
        propose(snapshot, "X", price=rule)
