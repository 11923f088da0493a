"""Analytics (issue 19): every number on the page, in the API and in each CSV equals the test's own count
from the database, for a seeded history (20 presets, 72 models, 4 providers; tests/analytics_seed.py).

The expected figures are computed here from the raw rows, in Python, by the definitions the page states;
nothing of app.analytics is called.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.core.database import db
from app.models import GalleryExample, Job, JobItem, Preset, PresetModelUsage, SpendEntry
from app.providers.catalog import PROVIDERS as CATALOG
from app.spend.ledger import money
from tests.analytics_seed import PROVIDERS, QUERY, RETIRED, seed_history
from tests.helpers import signed_in

FIRST, LAST = date(2026, 9, 1), date(2026, 10, 31)


# -- the test's own figures ------------------------------------------------------------------------------
def raw_rows(app):
    with app.app_context():
        s = db.session
        rows = {
            "examples": s.execute(
                select(GalleryExample.preset_id, GalleryExample.model_id, GalleryExample.provider).add_columns(
                    GalleryExample.state, GalleryExample.created_at
                )
            ).all(),
            "items": s.execute(
                select(JobItem.model_id, JobItem.state, JobItem.prediction_seconds, Job.provider, Job.created_at).join(
                    Job, Job.id == JobItem.job_id
                )
            ).all(),
            "spend": s.execute(
                select(SpendEntry.preset_id, SpendEntry.provider, SpendEntry.amount, SpendEntry.created_at)
            ).all(),
            "usage": s.execute(
                select(PresetModelUsage.preset_id, PresetModelUsage.model_id, PresetModelUsage.state)
            ).all(),
            "presets": s.execute(select(Preset.id, Preset.name, Preset.provider)).all(),
            "registry": [(m.id, m.gender) for m in app.extensions["pixelglow"].registry().all],
        }
        s.remove()
    return rows


def in_range(moment: datetime) -> bool:
    return FIRST <= moment.date() <= LAST


def ratio(part, whole):
    return (part, whole)


def p(values, q):
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if q != 50 else statistics.median(values)


def quality(examples, items):
    states = defaultdict(int)
    for e in examples:
        states[e.state] += 1
    ended = [i for i in items if i.state in ("succeeded", "failed")]
    return {
        "examples": len(examples),
        "approved": states["approved"] + states["featured"],
        "reviewed": states["approved"] + states["featured"] + states["rejected"],
        "ended": len(ended),
        "failed": sum(1 for i in ended if i.state == "failed"),
    }


def expected(raw) -> dict:
    examples = [e for e in raw["examples"] if in_range(e.created_at)]
    items = [i for i in raw["items"] if in_range(i.created_at)]
    spend = [e for e in raw["spend"] if in_range(e.created_at)]
    registry_ids = {m for m, _ in raw["registry"]}
    models = {}
    for model_id, gender in [*raw["registry"], (RETIRED, None)]:
        mine = [e for e in examples if e.model_id == model_id]
        users = {pid for pid, m, state in raw["usage"] if m == model_id and state == "used"}
        models[model_id] = {"gender": gender, "presets": len(users)} | quality(
            mine, [i for i in items if i.model_id == model_id]
        )
    providers = {}
    for provider in PROVIDERS:
        timed = [i.prediction_seconds for i in items if i.provider == provider and i.state == "succeeded"]
        timed = [t for t in timed if t is not None]
        providers[provider] = quality(
            [e for e in examples if e.provider == provider], [i for i in items if i.provider == provider]
        ) | {
            "timed": len(timed),
            "median": p(timed, 50) if timed else None,
            "p95": p(timed, 95) if timed else None,
            "spend": sum((e.amount for e in spend if e.provider == provider), Decimal(0)),
        }
    presets = {}
    for preset_id, name, provider in raw["presets"]:
        mine = [e for e in examples if e.preset_id == preset_id]
        used = {m for pid, m, state in raw["usage"] if pid == preset_id and state == "used" and m in registry_ids}
        presets[preset_id] = (
            {"name": name, "provider": provider, "used": len(used), "examples": len(mine)}
            | {
                state: sum(1 for e in mine if e.state == state)
                for state in ("unreviewed", "approved", "featured", "rejected")
            }
            | {"spend": sum((e.amount for e in spend if e.preset_id == preset_id), Decimal(0))}
        )
    weeks = {}
    day = FIRST
    while day <= LAST:
        year, week, _ = day.isocalendar()
        w = weeks.setdefault(f"{year}-W{week:02d}", {"from": day, "to": day, "examples": 0, "spend": Decimal(0)})
        w["to"] = day
        w["examples"] += sum(1 for e in examples if e.created_at.date() == day)
        w["spend"] += sum((e.amount for e in spend if e.created_at.date() == day), Decimal(0))
        day += timedelta(days=1)
    total_spend = sum((e.amount for e in spend), Decimal(0))
    return {
        "models": models,
        "providers": providers,
        "presets": presets,
        "weeks": weeks,
        "examples": len(examples),
        "spend": total_spend,
    }


def rate_page(part, whole):
    return "—" if not whole else f"{100 * part / whole:.1f} %"


def rate_csv(part, whole):
    return "" if not whole else f"{part / whole:.4f}"


def rate_json(part, whole):
    return None if not whole else round(part / whole, 4)


# -- what the app shows ---------------------------------------------------------------------------------
def page_table(html: str, key: str) -> dict[str, dict[str, str]]:
    """{first cell: {column key: cell text}} of the page's table `key`."""
    body = re.search(rf'<table class="data-table" id="table-{key}">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = {
            k: " ".join(re.sub(r"<[^>]+>", "", v).split())
            for k, v in re.findall(r'data-key="(\w+)"[^>]*>(.*?)</t[hd]>', row, re.S)
        }
        rows[next(iter(cells.values()))] = cells
    return rows


def csv_table(client, key: str) -> list[dict[str, str]]:
    response = client.get(f"/admin/analytics/{key}.csv?{QUERY}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert f'filename="analytics-{key}-2026-09-01-to-2026-10-31.csv"' in response.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.fixture(params=["postgres", "sqlite"])
def seeded(request, make_app):
    app = make_app(database=request.param)
    seed_history(app)
    return app, signed_in(app), expected(raw_rows(app))


def test_the_seed_is_a_mix_of_everything(seeded):
    """The history has what the figures must tell apart: every state, failures, all providers, unreviewed-only
    models (approval "—") and models with nothing in the range."""
    _, _, want = seeded
    assert len(want["presets"]) == 20 and len(want["models"]) == 73  # 72 + one no longer in models.json
    assert all(want["providers"][p]["examples"] and want["providers"][p]["failed"] for p in PROVIDERS)
    assert all(want["providers"][p]["spend"] > 0 for p in PROVIDERS)
    assert any(m["examples"] and not m["reviewed"] for m in want["models"].values())
    assert any(m["reviewed"] and m["approved"] < m["reviewed"] for m in want["models"].values())
    assert want["models"][RETIRED]["examples"] > 0


def test_per_provider_figures_match_the_database(seeded):
    app, client, want = seeded
    api = client.get(f"/api/admin/analytics?{QUERY}").get_json()
    page = page_table(client.get(f"/admin/analytics?{QUERY}").get_data(as_text=True), "providers")
    sheet = {row["Provider"]: row for row in csv_table(client, "providers")}
    assert [r["provider"] for r in api["providers"]] == list(PROVIDERS)
    for row in api["providers"]:
        w = want["providers"][row["provider"]]
        for key in ("examples", "approved", "reviewed", "ended", "failed", "timed"):
            assert row[key] == w[key], (row["provider"], key)
        assert row["approvalRate"] == rate_json(w["approved"], w["reviewed"])
        assert row["failureRate"] == rate_json(w["failed"], w["ended"])
        assert row["medianSeconds"] == pytest.approx(w["median"], abs=1e-9)
        assert row["p95Seconds"] == pytest.approx(w["p95"], abs=1e-9)
        assert Decimal(row["spendUsd"]) == w["spend"]

        cells, line = page[CATALOG[row["provider"]].display_name], sheet[row["provider"]]  # the page names it
        assert cells["examples"] == f"{w['examples']:,}" == f"{int(line['Examples']):,}"
        assert cells["approvalRate"] == rate_page(w["approved"], w["reviewed"])
        assert line["Approval rate"] == rate_csv(w["approved"], w["reviewed"])
        assert cells["failureRate"] == rate_page(w["failed"], w["ended"])
        assert line["Failure rate"] == rate_csv(w["failed"], w["ended"])
        assert (cells["ended"], cells["failed"]) == (f"{w['ended']:,}", f"{w['failed']:,}")
        assert (int(line["Ended items"]), int(line["Failed items"])) == (w["ended"], w["failed"])
        assert (
            cells["medianSeconds"] == f"{w['median']:.1f} s" and line["Median time to result"] == f"{w['median']:.3f}"
        )
        assert cells["p95Seconds"] == f"{w['p95']:.1f} s" and line["p95 time to result"] == f"{w['p95']:.3f}"
        assert cells["spendUsd"] == money(w["spend"]) and Decimal(line["Spend"]) == w["spend"]


MODEL_HEADERS = {
    "presets": "Presets",
    "examples": "Examples",
    "approved": "Approved + featured",
    "reviewed": "Reviewed",
    "ended": "Ended items",
    "failed": "Failed items",
}


def test_per_model_figures_match_the_database(seeded):
    app, client, want = seeded
    api = client.get(f"/api/admin/analytics?{QUERY}").get_json()
    page = page_table(client.get(f"/admin/analytics?{QUERY}").get_data(as_text=True), "models")
    sheet = {row["Model"]: row for row in csv_table(client, "models")}
    assert [r["modelId"] for r in api["models"]] == list(want["models"])  # the registry's order, then the retired
    assert len(page) == len(sheet) == 73
    for row in api["models"]:
        w, cells, line = want["models"][row["modelId"]], page[row["modelId"]], sheet[row["modelId"]]
        for key, header in MODEL_HEADERS.items():
            assert row[key] == w[key] == int(line[header]), (row["modelId"], key)
            assert cells[key] == f"{w[key]:,}"
        assert row["gender"] == w["gender"] and cells["gender"] == (w["gender"] or "—")
        assert row["approvalRate"] == rate_json(w["approved"], w["reviewed"])
        assert cells["approvalRate"] == rate_page(w["approved"], w["reviewed"])
        assert line["Approval rate"] == rate_csv(w["approved"], w["reviewed"])
        assert row["failureRate"] == rate_json(w["failed"], w["ended"])
        assert cells["failureRate"] == rate_page(w["failed"], w["ended"])
        assert line["Failure rate"] == rate_csv(w["failed"], w["ended"])


def test_per_preset_figures_match_the_database(seeded):
    app, client, want = seeded
    api = client.get(f"/api/admin/analytics?{QUERY}").get_json()
    page = page_table(client.get(f"/admin/analytics?{QUERY}").get_data(as_text=True), "presets")
    sheet = {row["Preset id"]: row for row in csv_table(client, "presets")}
    assert [r["name"] for r in api["presets"]] == sorted(w["name"] for w in want["presets"].values())
    assert set(sheet) == set(want["presets"]) and len(page) == 20
    for row in api["presets"]:
        w, line = want["presets"][row["presetId"]], sheet[row["presetId"]]
        cells = page[w["name"]]
        assert (row["modelsUsed"], row["poolSize"]) == (w["used"], 72)
        assert row["coverage"] == rate_json(w["used"], 72) and line["Pool coverage"] == rate_csv(w["used"], 72)
        assert cells["coverage"] == rate_page(w["used"], 72) and cells["modelsUsed"] == str(w["used"])
        for state in ("examples", "unreviewed", "approved", "featured", "rejected"):
            assert row[state] == w[state] == int(line[state.capitalize()]), (w["name"], state)
            assert cells[state] == f"{w[state]:,}"
        assert Decimal(row["spendUsd"]) == w["spend"] == Decimal(line["Spend"])
        assert cells["spendUsd"] == money(w["spend"])
        assert row["provider"] == w["provider"] == line["Provider"]  # the enum in the API and the CSV
        assert cells["provider"] == CATALOG[w["provider"]].display_name  # its name on the page


def test_per_week_figures_and_totals_match_the_database(seeded):
    app, client, want = seeded
    api = client.get(f"/api/admin/analytics?{QUERY}").get_json()
    html = client.get(f"/admin/analytics?{QUERY}").get_data(as_text=True)
    page = page_table(html, "weeks")
    sheet = {row["ISO week"]: row for row in csv_table(client, "weeks")}
    assert [r["week"] for r in api["weeks"]] == list(want["weeks"]) == list(page) == list(sheet)
    assert list(want["weeks"])[0] == "2026-W36" and list(want["weeks"])[-1] == "2026-W44"
    for row in api["weeks"]:
        w, cells, line = want["weeks"][row["week"]], page[row["week"]], sheet[row["week"]]
        assert (row["from"], row["to"]) == (w["from"].isoformat(), w["to"].isoformat()) == (line["From"], line["To"])
        assert row["examples"] == w["examples"] == int(line["Examples"]) and cells["examples"] == f"{w['examples']:,}"
        assert Decimal(row["spendUsd"]) == w["spend"] == Decimal(line["Spend"]) and cells["spendUsd"] == money(
            w["spend"]
        )
    assert api["totals"]["examples"] == want["examples"] and Decimal(api["totals"]["spendUsd"]) == want["spend"]
    assert (
        f'data-total="examples">{want["examples"]:,}<' in html and f'data-total="spend">{money(want["spend"])}<' in html
    )
    # the deleted preset's spend counts for its provider and week, not among the presets
    presets_spend = sum((w["spend"] for w in want["presets"].values()), Decimal(0))
    assert want["spend"] - presets_spend == Decimal("0.04")
