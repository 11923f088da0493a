"""Preset settings come from each model's published input schema (issue: settings the models reject)."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from sqlalchemy import func, select

from app.core.database import db
from app.models import Job, Preset
from app.providers import schemas
from app.providers.catalog import PROVIDERS
from tests import factories
from tests.conftest import auth_headers, create_preset, post_generate
from tests.replicate_server import ReplicateServer

SERVER_MODEL = {p.name: p.model for p in PROVIDERS.values()}


def post_preset(client, provider: str, settings: dict, name: str = "Schema check"):
    return client.post(
        "/api/admin/presets",
        data=json.dumps({"name": name, "prompt": "portrait", "provider": provider, "settings": settings}),
        headers=auth_headers(**{"Content-Type": "application/json"}),
    )


def enum_cases():
    for provider in PROVIDERS.values():
        for field in provider.settings.values():
            if field.enum:
                yield provider.name, field.name, field.enum


@pytest.mark.parametrize("provider, field, allowed", list(enum_cases()))
def test_every_enum_value_is_accepted_and_others_refused_with_the_list(admin_app, provider, field, allowed):
    client = admin_app.test_client()
    for n, value in enumerate(allowed):
        response = post_preset(client, provider, {field: value}, name=f"{provider} {field} {n}")
        assert response.status_code == 201, (value, response.get_json())
    refused = post_preset(client, provider, {field: "nonsense" if isinstance(allowed[0], str) else 999}, name="bad")
    assert refused.status_code == 400
    error = refused.get_json()["error"]
    assert repr(field) in error and ", ".join(map(str, allowed)) in error


def test_the_settings_the_models_reject_are_refused(admin_app):
    client = admin_app.test_client()
    cases = [
        ("FLUX_PRO", {"aspect_ratio": "21:9"}, "'aspect_ratio' must be one of"),
        ("FLUX_PRO", {"aspect_ratio": "9:21"}, "'aspect_ratio' must be one of"),
        ("NANO_BANANA", {"aspect_ratio": "9:21"}, "'aspect_ratio' must be one of"),
        (
            "STABLE_DIFFUSION",
            {"negative_prompt": "x" * 1_000_000},
            "'negative_prompt' must be at most 2,000 characters",
        ),
        ("FLUX_PRO", {"seed": 10**30}, "'seed' must be at most"),
        ("FLUX_PRO", {"output_quality": 101}, "'output_quality' must be at most 100"),
        ("FLUX_PRO", {"safety_tolerance": 0}, "'safety_tolerance' must be at least 1"),
        ("FLUX_KONTEXT", {"safety_tolerance": 5}, "'safety_tolerance' must be at most 2"),  # with an input image
        ("STABLE_DIFFUSION", {"width": 500}, "'width' must be one of"),
        ("STABLE_DIFFUSION", {"num_outputs": 4}, "is not an input"),  # one output per prediction, set by the app
        ("NANO_BANANA", {"strength": 1}, "'strength' is not an input of google/nano-banana"),
        ("FLUX_PRO", {"prompt_upsampling": "yes"}, "'prompt_upsampling' must be a boolean"),
    ]
    for provider, settings, expected in cases:
        response = post_preset(client, provider, settings)
        assert response.status_code == 400, (provider, settings)
        assert expected in response.get_json()["error"], response.get_json()["error"]
    with admin_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Preset)) == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(admin_app, literal):
    client = admin_app.test_client()
    body = '{"name": "n", "prompt": "p", "provider": "STABLE_DIFFUSION", "settings": {"guidance_scale": LITERAL}}'
    body = body.replace("LITERAL", literal)
    response = client.post(
        "/api/admin/presets", data=body, headers=auth_headers(**{"Content-Type": "application/json"})
    )
    assert response.status_code == 400
    assert "guidance_scale" in response.get_json()["error"]
    assert PROVIDERS["STABLE_DIFFUSION"].settings_problems({"guidance_scale": math.nan})


def test_the_preset_form_shows_the_schemas_choices(admin_client):
    html = admin_client.get("/admin/presets/new").get_data(as_text=True)
    for provider in PROVIDERS.values():
        for field in provider.settings.values():
            name = f"setting-{provider.name}-{field.name}"
            assert f'id="{name}"' in html
            for choice in field.enum:
                assert f'<option value="{choice}"' in html
            if field.maximum is not None and not field.enum:
                assert f'max="{field.maximum}"' in html
    assert "Aspect ratio for the generated image" in html  # descriptions as help text


@pytest.mark.fast
def test_the_defaults_of_each_provider_fit_its_schema():
    for provider in PROVIDERS.values():
        settable = {k: v for k, v in provider.defaults.items() if k not in provider.managed}
        assert provider.settings_problems(settable) == [], provider.name


@pytest.mark.fast
def test_the_snapshots_record_source_and_date_and_match_the_servers_copies():
    """The app's snapshot and the test server's own copy are separate files; this catches them drifting apart."""
    with ReplicateServer() as server:
        for name, model in SERVER_MODEL.items():
            snapshot = schemas.load_snapshot(name)
            assert snapshot.source.startswith("https://") and snapshot.retrieved
            assert snapshot.input_schema == server.resolved_input_schema(model), name


def test_a_stored_preset_the_schema_now_refuses_shows_the_problem_and_cannot_generate(admin_client):
    preset = create_preset(admin_client, provider="FLUX_PRO", settings={"aspect_ratio": "2:3"})
    with admin_client.application.app_context():
        row = db.session.get(Preset, preset["id"])
        row.settings = {"aspect_ratio": "21:9"}  # stored before the schema said otherwise
        db.session.commit()
    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert 'id="settings-problem"' in page and "aspect_ratio" in page and "21:9" in page
    response = post_generate(admin_client.application.test_client(), preset["id"])
    assert response.status_code == 409
    assert "'aspect_ratio' must be one of" in response.get_json()["error"]
    with admin_client.application.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 0


@pytest.fixture
def snapshot_copy(tmp_path, monkeypatch):
    """The snapshots in a temporary folder, so --write never touches the repository's files."""
    folder = tmp_path / "schemas"
    shutil.copytree(schemas.SCHEMA_DIR, folder)
    monkeypatch.setattr(schemas, "SCHEMA_DIR", folder)
    schemas.load_snapshot.cache_clear()
    yield folder
    schemas.load_snapshot.cache_clear()


def test_refresh_prints_the_difference_and_write_updates_the_snapshot(make_app, replicate_server, snapshot_copy):
    app = make_app(replicate=replicate_server)
    runner = app.test_cli_runner()
    unchanged = runner.invoke(args=["providers", "schemas", "--refresh"])
    assert unchanged.exit_code == 0, unchanged.output
    assert unchanged.output.count("unchanged") == len(PROVIDERS)

    model = "black-forest-labs/flux-1.1-pro"
    openapi = json.loads(json.dumps(replicate_server.model_json(model)["latest_version"]["openapi_schema"]))
    new_version = replicate_server.publish_version(model, openapi)
    narrowed = replicate_server.input_schema(model, new_version)
    narrowed["properties"]["output_quality"]["maximum"] = 90
    factories.preset(app, "Old", provider="FLUX_PRO", settings={"output_quality": 95})

    shown = runner.invoke(args=["providers", "schemas", "--refresh"])
    assert shown.exit_code == 1 and '-      "maximum": 100' in shown.output and '+      "maximum": 90' in shown.output
    assert "  - changed input output_quality: maximum 100 → 90" in shown.output  # and in words
    assert json.loads((snapshot_copy / "FLUX_PRO.json").read_text())["version"] != new_version

    written = runner.invoke(args=["providers", "schemas", "--refresh", "--write"])
    assert written.exit_code == 0, written.output
    assert 'Preset "Old" has settings the new schema refuses' in written.output
    saved = json.loads((snapshot_copy / "FLUX_PRO.json").read_text())
    assert saved["version"] == new_version and saved["input_schema"]["properties"]["output_quality"]["maximum"] == 90
    assert PROVIDERS["FLUX_PRO"].settings_problems({"output_quality": 95})


def test_write_needs_refresh(make_app):
    result = make_app().test_cli_runner().invoke(args=["providers", "schemas", "--write"])
    assert result.exit_code == 2 and "--write only goes with --refresh" in result.output
