"""Analytics counts a comparison's spend apart from galleries (issue 37): a comparison of 3 variants x 4 models
beside a gallery job, its 12 ledger entries in the "on comparisons" figures of the totals, its preset, its
providers and its week, on the page, in the CSV and in the API; the whole spend stays the sum of both."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.core.database import db
from app.models import SpendEntry
from app.spend.ledger import money
from tests.conftest import auth_headers, create_preset, post_generate
from tests.helpers import signed_in

VARIANTS = [
    {"current": True},
    {"provider": "FLUX_KONTEXT", "settings": {"output_format": "png"}},
    {"provider": "FLUX_PRO", "settings": {}},
]
MODELS = ["male_01", "male_02", "female_01", "female_02"]


@pytest.fixture(params=["postgres", "sqlite"])
def spent(request, make_app, immediate_huey, replicate_server):
    """A preset with a gallery job of 2 models and a comparison of 3 variants x 4 models, all run."""
    app = make_app(database=request.param, replicate=replicate_server)
    client = app.test_client()
    preset = create_preset(client, name="Compared")
    assert post_generate(client, preset["id"], {"modelIds": ["male_03", "female_03"]}).status_code == 202
    body = {"variants": VARIANTS, "modelIds": MODELS}
    started = client.post(f"/api/admin/presets/{preset['id']}/comparisons", json=body, headers=auth_headers())
    assert started.status_code == 202, started.get_json()
    with app.app_context():
        entries = list(db.session.scalars(select(SpendEntry)))
        db.session.remove()
    return app, preset, started.get_json()["comparisonId"], entries


def test_a_comparisons_twelve_entries_count_as_comparison_spend_not_gallery_spend(spent):
    app, preset, comparison_id, entries = spent
    compared = [e for e in entries if e.comparison_id == comparison_id]
    gallery = [e for e in entries if e.comparison_id is None]
    assert len(compared) == 12 and len(gallery) == 2
    on_comparisons = sum((e.amount for e in compared), Decimal(0))
    on_galleries = sum((e.amount for e in gallery), Decimal(0))
    assert on_comparisons > 0 and on_galleries > 0
    today = datetime.now(UTC).date().isoformat()  # the ledger's days are UTC days
    query = f"from={today}&to={today}"
    client = signed_in(app)
    report = client.get(f"/api/admin/analytics?{query}", headers=auth_headers()).get_json()
    totals = report["totals"]
    assert Decimal(totals["comparisonsUsd"]) == on_comparisons
    assert Decimal(totals["galleriesUsd"]) == on_galleries
    assert Decimal(totals["spendUsd"]) == on_comparisons + on_galleries
    row = next(p for p in report["presets"] if p["presetId"] == preset["id"])
    assert Decimal(row["comparisonsUsd"]) == on_comparisons
    assert Decimal(row["spendUsd"]) == on_comparisons + on_galleries
    by_provider = {p["provider"]: p for p in report["providers"]}
    for provider in ("NANO_BANANA", "FLUX_KONTEXT", "FLUX_PRO"):
        mine = [e for e in compared if e.provider == provider]
        assert len(mine) == 4
        assert Decimal(by_provider[provider]["comparisonsUsd"]) == sum((e.amount for e in mine), Decimal(0))
    assert (
        Decimal(by_provider["NANO_BANANA"]["spendUsd"]) - Decimal(by_provider["NANO_BANANA"]["comparisonsUsd"])
        == on_galleries
    )  # the gallery job ran the preset's provider
    week = report["weeks"][0]
    assert Decimal(week["comparisonsUsd"]) == on_comparisons and Decimal(week["spendUsd"]) == totals_sum(totals)
    assert report["totals"]["examples"] == 2  # the comparison's 12 outputs are cells, not examples

    html = client.get(f"/admin/analytics?{query}").get_data(as_text=True)
    assert f'data-total="comparisons">{money(on_comparisons)}<' in html
    assert f'data-total="galleries">{money(on_galleries)}<' in html
    sheet = client.get(f"/admin/analytics/presets.csv?{query}").get_data(as_text=True)
    line = next(r for r in csv.DictReader(io.StringIO(sheet)) if r["Preset id"] == preset["id"])
    assert Decimal(line["Of which on comparisons"]) == on_comparisons
    assert Decimal(line["Spend"]) == on_comparisons + on_galleries


def totals_sum(totals: dict) -> Decimal:
    return Decimal(totals["galleriesUsd"]) + Decimal(totals["comparisonsUsd"])
