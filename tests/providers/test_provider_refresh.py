"""`providers refresh KEY` (issue 35, acceptance 5): the model's schema read again through the real `replicate`
client from the test server; a changed one is shown as inputs added, removed and changed, with the presets it
would refuse, and nothing changes until confirmed (`--yes` or the prompt); an unchanged one says so."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from app import provider_rows
from app.core.database import db
from app.models import ProviderRow
from app.providers import schemas
from app.providers.schema_changes import describe_changes
from tests import factories

MODEL = "acme/portrait-editor"


def saved_row(app, key: str) -> tuple:
    with app.app_context():
        row = db.session.scalar(select(ProviderRow).where(ProviderRow.key == key))
        return copy.deepcopy(row.input_schema), row.schema_source, row.schema_retrieved, row.updated_at


def publish_changed_schema(server) -> str:
    """A new latest version of acme/portrait-editor: `seed` gone, `guidance` added, the aspect-ratio enum (behind
    its `allOf` `$ref`) without 9:16 and with 2:3, and megapixels' default 1 → 0.25."""
    openapi = copy.deepcopy(server.model_version(MODEL)["openapi_schema"])
    components = openapi["components"]["schemas"]
    inputs = components["Input"]["properties"]
    del inputs["seed"]
    inputs["guidance"] = {"type": "number", "title": "Guidance", "minimum": 0, "maximum": 10, "default": 3.5}
    components["aspect_ratio"]["enum"] = ["match_input_image", "1:1", "3:4", "4:3", "16:9", "2:3"]
    inputs["megapixels"]["default"] = "0.25"
    return server.publish_version(MODEL, openapi)


def test_a_changed_schema_is_shown_in_words_and_saved_only_when_confirmed(make_app, replicate_server):
    app = make_app(replicate=replicate_server)
    runner = app.test_cli_runner()
    added = runner.invoke(args=["providers", "add", MODEL, "--key", "ACME_EDITOR", "--yes"])
    assert added.exit_code == 0, added.output
    factories.preset(app, "Tall", provider="ACME_EDITOR", settings={"aspect_ratio": "9:16", "seed": 7})
    factories.preset(app, "Square", provider="ACME_EDITOR", settings={"aspect_ratio": "1:1"})

    unchanged = runner.invoke(args=["providers", "refresh", "ACME_EDITOR"])
    assert unchanged.exit_code == 0, unchanged.output
    assert "ACME_EDITOR: unchanged (acme/portrait-editor version" in unchanged.output and "Save" not in unchanged.output

    before = saved_row(app, "ACME_EDITOR")
    version = publish_changed_schema(replicate_server)
    declined = runner.invoke(args=["providers", "refresh", "ACME_EDITOR"], input="n\n")
    assert declined.exit_code == 1 and "Nothing saved." in declined.output
    out = declined.output
    assert f"acme/portrait-editor version {version} differs from the saved schema" in out
    assert "  - added input guidance: number, default 3.5" in out
    assert "  - removed input seed" in out
    assert "  - changed input aspect_ratio: now also takes 2:3; no longer takes 9:16" in out
    assert '  - changed input megapixels: default "1" → "0.25"' in out
    refused = next(line for line in out.splitlines() if line.startswith('Preset "Tall" has settings the new schema'))
    assert "setting 'aspect_ratio' must be one of: match_input_image, 1:1, 3:4, 4:3, 16:9, 2:3 (got '9:16')" in refused
    assert "setting 'seed' is not an input of acme/portrait-editor" in refused
    assert 'Preset "Square"' not in out
    assert "Save the new schema? [y/N]" in out
    assert saved_row(app, "ACME_EDITOR") == before  # nothing changed
    with app.app_context():
        assert "seed" in provider_rows.get("ACME_EDITOR").settings

    confirmed = runner.invoke(args=["providers", "refresh", "ACME_EDITOR"], input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert f"ACME_EDITOR: schema saved (version {version})" in confirmed.output
    schema, source, retrieved, _ = saved_row(app, "ACME_EDITOR")
    assert schema == replicate_server.resolved_input_schema(MODEL)
    assert source == f"https://api.replicate.com/v1/models/{MODEL}" and retrieved
    with app.app_context():
        provider = provider_rows.get("ACME_EDITOR")
        assert "seed" not in provider.settings and "guidance" in provider.settings
        assert provider.settings["aspect_ratio"].enum == ("match_input_image", "1:1", "3:4", "4:3", "16:9", "2:3")
    again = runner.invoke(args=["providers", "refresh", "ACME_EDITOR"])
    assert again.exit_code == 0 and "unchanged" in again.output


def test_yes_saves_a_seed_providers_refresh_without_asking_and_leaves_the_seed_file(make_app, replicate_server):
    app = make_app(replicate=replicate_server)
    model = "black-forest-labs/flux-1.1-pro"
    openapi = copy.deepcopy(replicate_server.model_version(model)["openapi_schema"])
    openapi["components"]["schemas"]["Input"]["properties"]["output_quality"]["maximum"] = 90
    replicate_server.publish_version(model, openapi)
    file_before = schemas.snapshot_path("FLUX_PRO").read_text()

    result = app.test_cli_runner().invoke(args=["providers", "refresh", "FLUX_PRO", "--yes"])
    assert result.exit_code == 0, result.output
    assert "  - changed input output_quality: maximum 100 → 90" in result.output
    assert "Save the new schema?" not in result.output and "FLUX_PRO: schema saved" in result.output
    with app.app_context():
        assert provider_rows.get("FLUX_PRO").settings_problems({"output_quality": 95})
    assert schemas.snapshot_path("FLUX_PRO").read_text() == file_before  # the row is what changed


def test_refresh_refuses_an_unknown_key_and_says_when_replicate_cannot_be_read(make_app, replicate_server):
    app = make_app(replicate=replicate_server)
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["providers", "refresh", "NOPE"])
    assert unknown.exit_code == 1 and "No provider 'NOPE'" in unknown.output
    replicate_server.stop()
    down = runner.invoke(args=["providers", "refresh", "NANO_BANANA", "--yes"])
    assert down.exit_code == 1 and "could not read google/nano-banana from Replicate" in down.output
    assert "Traceback" not in down.output


@pytest.mark.fast
def test_the_words_name_each_kind_of_change():
    old = {
        "required": ["prompt"],
        "properties": {
            "prompt": {"type": "string"},
            "steps": {"type": "integer", "minimum": 1, "maximum": 50, "description": "Steps."},
            "style": {"type": "string", "enum": ["a", "b"]},
        },
    }
    new = {
        "required": ["prompt", "image"],
        "properties": {
            "prompt": {"type": "string"},
            "steps": {"type": "number", "minimum": 1, "description": "How many steps."},
            "style": {"type": "string"},
            "image": {"type": "array", "items": {"type": "string", "format": "uri"}},
        },
    }
    assert describe_changes(old, new) == [
        "added input image: list of uri",
        'changed input steps: type "integer" → "number"; maximum 50 → none; its description changed',
        "changed input style: no longer takes a, b; now takes any value",
        "required inputs: prompt → image, prompt",
    ]
    assert describe_changes(new, new) == []
