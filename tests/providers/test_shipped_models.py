"""This year's six models shipped as provider rows, turned off (issue 36): their snapshots agree with the test
server's copies and refuse what the schemas refuse; `providers enable` turns one on without a restart; each
generates 20 examples through the real `replicate` client, billed as its price rule says (by the app's ledger,
by the test server, and by this file's own computation, for two settings where the price depends on one)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from decimal import Decimal

import jsonschema
import pytest
import replicate
from flask_migrate import downgrade, upgrade
from replicate.exceptions import ReplicateError
from sqlalchemy import select

from app import provider_rows
from app.core.database import db
from app.models import GalleryExample, Job, ProviderRow, SpendBasis
from app.providers.catalog import PROVIDERS
from app.providers.pricing import PriceRuleError, check_rule
from app.providers.replicate.read_plan import MAX_STEP, PRIORS, Planner
from app.spend import ledger
from tests.conftest import REPLICATE_TOKEN, auth_headers, create_preset, post_generate
from tests.helpers import signed_in
from tests.replicate_server import ReplicateServer
from tests.shipped import SHIPPED, add_shipped, snapshot

MODELS = {
    "NANO_BANANA_2": "google/nano-banana-2",
    "NANO_BANANA_PRO": "google/nano-banana-pro",
    "FLUX_2_PRO": "black-forest-labs/flux-2-pro",
    "FLUX_KONTEXT_MAX": "black-forest-labs/flux-kontext-max",
    "SEEDREAM_4": "bytedance/seedream-4",
    "QWEN_IMAGE_EDIT_PLUS": "qwen/qwen-image-edit-plus",
}
# (preset settings, what one image costs), computed here by hand from the price table
EXPECTED = {
    "NANO_BANANA_2": [({"resolution": "1K"}, "0.067"), ({"resolution": "4K", "aspect_ratio": "1:4"}, "0.151")],
    "NANO_BANANA_PRO": [({}, "0.15"), ({"resolution": "4K"}, "0.30")],  # 2K by default
    # 0.015 a run + 0.015 x (1 MP of reference photo + the output's megapixels)
    "FLUX_2_PRO": [({}, "0.045"), ({"resolution": "4 MP"}, "0.09")],  # 1 MP by default
    "FLUX_KONTEXT_MAX": [({"aspect_ratio": "3:4"}, "0.08")],
    "SEEDREAM_4": [({"size": "4K"}, "0.03")],
    "QWEN_IMAGE_EDIT_PLUS": [({"aspect_ratio": "3:4"}, "0.03")],
}
# a setting each model's schema refuses, and how the app words it
REFUSED = {
    "NANO_BANANA_2": ({"resolution": "8K"}, "must be one of: 1K, 2K, 4K"),
    "NANO_BANANA_PRO": ({"safety_filter_level": "block_none"}, "must be one of: block_low_and_above"),
    "FLUX_2_PRO": ({"safety_tolerance": 6}, "must be at most 5"),
    "FLUX_KONTEXT_MAX": ({"safety_tolerance": 3}, "must be at most 2"),
    "SEEDREAM_4": ({"width": 512}, "must be at least 1024"),
    "QWEN_IMAGE_EDIT_PLUS": ({"aspect_ratio": "21:9"}, "must be one of: 1:1, 16:9"),
}


@pytest.fixture
def shipped_app(make_app, replicate_server):
    app = make_app(replicate=replicate_server, SPEND_LIMIT_PER_MONTH="1000")
    with app.app_context():
        add_shipped()
        db.session.commit()
    return app


def test_the_six_ship_with_snapshots_the_test_server_shares():
    """Each snapshot says where and when it was read, its rule prices every value of its setting, and the test
    server validates with the same Input schema (so it refuses what the snapshot refuses)."""
    assert set(SHIPPED) == set(MODELS)
    with ReplicateServer() as server:
        for key, model in MODELS.items():
            found = snapshot(key)
            assert found["model"] == model and found["source"].startswith("https://") and found["retrieved"]
            assert found["notes"], key  # what the stored page lacked and where it was found instead
            assert server.resolved_input_schema(model) == found["input_schema"], key
            provider = found["provider"]
            assert provider["image_field"] in found["input_schema"]["properties"], key
            check_rule(provider["price"], found["input_schema"]["properties"])
    assert "UNVERIFIED" in " ".join(snapshot("QWEN_IMAGE_EDIT_PLUS")["notes"])  # said, not hidden


def test_a_megapixel_table_must_size_every_value():
    properties = snapshot("FLUX_2_PRO")["input_schema"]["properties"]
    rule = dict(snapshot("FLUX_2_PRO")["provider"]["price"], megapixels={"1 MP": "1"})
    with pytest.raises(PriceRuleError, match="no megapixels for resolution=match_input_image, 0.5 MP, 2 MP, 4 MP"):
        check_rule(rule, properties)


def test_the_migration_adds_the_six_turned_off_and_takes_them_back(make_app):
    """Acceptance 3: `providers list` names all ten models, the six turned off."""
    app = make_app(database="sqlite")
    with app.app_context():
        rows = {row.key: row.state for row in db.session.scalars(select(ProviderRow).order_by(ProviderRow.id))}
        assert list(rows) == [*PROVIDERS, *SHIPPED]
        assert {rows[key] for key in SHIPPED} == {"disabled"}
        assert provider_rows.active_providers().keys() == PROVIDERS.keys()
        db.session.commit()
        downgrade(revision="0018")  # one step before this migration (0020)
        path = app.extensions["pixelglow"].settings.database_url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(path)) as raw:  # read apart from the session, as an operator would
            assert [key for (key,) in raw.execute("SELECT key FROM providers ORDER BY id")] == list(PROVIDERS)
        upgrade()
        assert len(provider_rows.all_providers()) == 10
        db.session.commit()
    listed = app.test_cli_runner().invoke(args=["providers", "list"]).output
    for key, model in [*((k, p.model) for k, p in PROVIDERS.items()), *MODELS.items()]:
        assert key in listed and model in listed, key
    assert listed.count("disabled") == 6


@pytest.mark.parametrize("key", list(MODELS))
def test_a_preset_input_fits_the_snapshot_and_a_refused_setting_is_refused_by_both(shipped_app, replicate_server, key):
    """Acceptance 1 (its first part): the input a preset's job sends validates against the model's snapshot;
    a setting the schema refuses is refused by the app (the form's message) and by the test server (422)."""
    with shipped_app.app_context():
        provider = provider_rows.get(key)
        for settings, _ in EXPECTED[key]:
            sent = provider.build_input("a studio portrait", "https://example.test/ref.jpg", settings)
            jsonschema.validate(
                sent, snapshot(key)["input_schema"], format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
            )
            photo = "https://example.test/ref.jpg"
            assert sent[provider.image_field] == ([photo] if provider.image_as_list else photo)
        bad, words = REFUSED[key]
        assert words in " ".join(provider.problems_by_setting(bad)[next(iter(bad))])
        refused = provider.build_input("p", "https://example.test/ref.jpg", {})
        refused.update(bad)
    client = replicate.Client(api_token=REPLICATE_TOKEN, base_url=replicate_server.url)
    with pytest.raises(ReplicateError) as raised:
        client.predictions.create(model=MODELS[key], input=refused)
    assert raised.value.status == 422


def test_a_turned_off_model_is_refused_until_enabled_without_a_restart(shipped_app):
    """Acceptance 2: a preset cannot use a turned-off model (409 naming `providers enable`); turning it on makes
    it available to the running app; turning it off again refuses its generate the same way."""
    client, runner = shipped_app.test_client(), shipped_app.test_cli_runner()
    body = {"name": "Pro", "prompt": "portrait", "provider": "NANO_BANANA_PRO", "settings": {}}
    refused = client.post("/api/admin/presets", json=body, headers=auth_headers())
    assert refused.status_code == 409
    assert "flask --app wsgi providers enable NANO_BANANA_PRO" in refused.get_json()["error"]
    shown = runner.invoke(args=["providers", "show", "NANO_BANANA_PRO"]).output
    assert "(disabled)" in shown and "per image by resolution (1K: $0.15, 2K: $0.15, 4K: $0.30)" in shown
    enabled = runner.invoke(args=["providers", "enable", "NANO_BANANA_PRO"])
    assert enabled.exit_code == 0 and "NANO_BANANA_PRO is on" in enabled.output
    preset = create_preset(client, name="Pro", provider="NANO_BANANA_PRO")
    assert "NANO_BANANA_PRO      active" in runner.invoke(args=["providers", "list"]).output
    disabled = runner.invoke(args=["providers", "disable", "NANO_BANANA_PRO"])
    assert disabled.exit_code == 0 and 'Preset "Pro" uses it' in disabled.output
    page = signed_in(shipped_app).get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert "is turned off; an admin turns it on with" in page and "providers enable NANO_BANANA_PRO" in page
    stopped = post_generate(client, preset["id"])
    assert stopped.status_code == 409 and "providers enable NANO_BANANA_PRO" in stopped.get_json()["error"]
    unknown = runner.invoke(args=["providers", "enable", "NOPE"])
    assert unknown.exit_code == 1 and "No provider 'NOPE'" in unknown.output


@pytest.mark.parametrize("key", list(MODELS))
def test_each_model_generates_20_examples_billed_by_its_rule(shipped_app, replicate_server, immediate_huey, key):
    """Acceptance 1: once enabled, a preset on the model generates 20 examples through the real client, sending
    only the schema's inputs with the photo in the model's reference field; the estimate, the reservation, the
    ledger and the test server's bill all equal this test's own price, for each setting that prices it."""
    assert shipped_app.test_cli_runner().invoke(args=["providers", "enable", key]).exit_code == 0
    client = shipped_app.test_client()
    properties = snapshot(key)["input_schema"]["properties"]
    field = snapshot(key)["provider"]["image_field"]
    settings = shipped_app.extensions["pixelglow"].settings
    for n, (preset_settings, each) in enumerate(EXPECTED[key]):
        price = Decimal(each)
        preset = create_preset(client, name=f"{key} {n}", provider=key, settings=preset_settings)
        before = len(replicate_server.creates)
        response = post_generate(client, preset["id"])
        assert response.status_code == 202, response.get_json()
        creates = replicate_server.creates[before:]
        assert len(creates) == 20
        for create in creates:
            assert create["model"] == MODELS[key] and set(create["input"]) <= set(properties)
            assert isinstance(create["input"][field], list) == (properties[field]["type"] == "array")
            assert all(create["input"][k] == v for k, v in preset_settings.items())
        outputs = {p["id"]: p["output"] for p in replicate_server.predictions()}
        as_list = snapshot(key)["provider"]["output_is_list"]  # seedream-4 and qwen answer a list of URIs
        assert {isinstance(outputs[c["id"]], list) for c in creates} == {as_list}
        bills = {b["id"]: b for b in replicate_server.bills()}
        assert [bills[c["id"]]["usd"] for c in creates] == [price] * 20
        with shipped_app.app_context():
            assert ledger.estimate_per_item(settings, key, False, preset_settings) == price
            job = db.session.get(Job, response.get_json()["jobId"])
            assert job is not None and job.status == "succeeded" and job.reserved_per_item == price
            assert ledger.job_spend(job.id) == price * 20
            assert ledger.charge_for(settings, key, True, False, 1.0, preset_settings).basis == SpendBasis.PER_IMAGE
            stored = db.session.scalars(select(GalleryExample).where(GalleryExample.preset_id == preset["id"])).all()
            assert len(stored) == 20 and {e.provider for e in stored} == {key}


def test_each_read_plan_fits_its_model_and_the_prediction_timeout(shipped_app):
    """The default time-to-result of each: polling starts near it, and Cancel-After (PREDICTION_TIMEOUT) leaves
    room past its 95th percentile; nano-banana-pro's range takes in its p50 ~42 s and p95 ~98 s."""
    timeout = shipped_app.extensions["pixelglow"].settings.prediction_timeout
    for key in MODELS:
        low, high = PRIORS[key]
        assert 0 < low < high and high * 3 <= timeout, key
    low, high = PRIORS["NANO_BANANA_PRO"]
    assert low <= 42 <= high and high >= 98
    for ends in (42.0, 98.0):  # its p50 and p95: no read spent in its first 20 s, seen within a step of its end
        times = read_times("NANO_BANANA_PRO", ends)
        assert times[0] >= 20 and times[-1] - ends <= MAX_STEP, (ends, times)


def read_times(key: str, ends: float) -> list[float]:
    """When a prediction of `key` ending at `ends` s is read (another prediction scouts the provider)."""
    planner = Planner()
    planner.plan(key).next_read(None)  # the scout
    plan, times = planner.plan(key), [0.0]
    while times[-1] < ends:
        times.append(plan.next_read(times[-1] or None))
    return times[1:]
