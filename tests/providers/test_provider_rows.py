"""Providers are rows (issue 35): the seed's four move into the `providers` table and back without losing a
preset's provider or settings; the code reads them per request."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from app import provider_rows
from app.core.database import db
from app.models import GalleryExample, Preset, ProviderRow
from app.providers.catalog import PROVIDERS
from tests import factories
from tests.conftest import create_preset, post_generate, wait_for_job
from tests.live_stack import Consumer, isolated_queue


def test_the_migration_moves_the_seed_into_rows_and_back_keeping_every_preset(make_app):
    app = make_app(database="sqlite")
    kept = {key: {"seed": n} for n, key in enumerate(PROVIDERS)}
    for key in PROVIDERS:
        factories.preset(app, key, provider=key, settings=kept[key])
    with app.app_context():
        rows = {row.key: row for row in db.session.scalars(select(ProviderRow))}
        assert list(rows)[: len(PROVIDERS)] == list(PROVIDERS)  # then this year's six, turned off (0020)
        for key, code in PROVIDERS.items():
            read = provider_rows.as_provider(rows[key])
            assert read.settings_schema == code.settings_schema, key
            assert (read.model, read.image_field, read.image_as_list, read.defaults, read.managed, read.by_version) == (
                code.model,
                code.image_field,
                code.image_as_list,
                code.defaults,
                code.managed,
                code.by_version,
            ), key
            assert read.display_name == code.display_name and read.description == code.description
        db.session.commit()  # ends this read: the migration below drops the table it read
        downgrade(revision="0017")
        assert "providers" not in inspect(db.engine).get_table_names()
        upgrade()
        db.session.expire_all()
        presets = {p.name: (p.provider, p.settings) for p in db.session.scalars(select(Preset))}
        assert presets == {key: (key, kept[key]) for key in PROVIDERS}
        assert list(provider_rows.all_providers())[: len(PROVIDERS)] == list(PROVIDERS)


def test_a_provider_key_longer_than_32_characters_fits(admin_app):
    key = "A_PROVIDER_KEY_OF_FORTY_EIGHT_CHARACTERS_OR_MORE_"
    factories.preset(admin_app, "Long key", provider=key)
    with admin_app.app_context():
        assert db.session.scalar(select(Preset.provider).where(Preset.name == "Long key")) == key


def test_a_model_added_from_the_cli_runs_a_preset_without_a_restart(make_app, immediate_huey, replicate_server):
    """Acceptance 1: `providers add acme/portrait-editor --key ACME_EDITOR` proposes `input_image` (single), saves
    on confirmation, and a preset on it made through the API generates 20 examples with only the schema's keys."""
    app = make_app(replicate=replicate_server)
    runner = app.test_cli_runner()
    declined = runner.invoke(args=["providers", "add", "acme/portrait-editor", "--key", "ACME_EDITOR"], input="n\n")
    assert declined.exit_code == 1 and "Nothing saved" in declined.output
    assert "reference photo: input_image, one image" in declined.output
    assert "megapixels" in declined.output and '"input_image": "https://' in declined.output  # the sample input
    with app.app_context():
        assert provider_rows.find("ACME_EDITOR") is None
    added = runner.invoke(args=["providers", "add", "acme/portrait-editor", "--key", "ACME_EDITOR"], input="y\n")
    assert added.exit_code == 0, added.output
    client = app.test_client()
    preset = create_preset(client, name="Acme", provider="ACME_EDITOR", settings={"aspect_ratio": "3:4"})
    assert post_generate(client, preset["id"]).status_code == 202
    schema_keys = set(replicate_server.resolved_input_schema("acme/portrait-editor")["properties"])
    registry = app.extensions["pixelglow"].registry()
    creates = replicate_server.creates
    assert len(creates) == 20
    for create in creates:
        assert create["model"] == "acme/portrait-editor"
        assert set(create["input"]) <= schema_keys, create["input"]
        assert create["input"]["input_image"] in {m.s3_url for m in registry.all}
        assert create["input"]["aspect_ratio"] == "3:4"
    with app.app_context():
        stored = db.session.scalars(select(GalleryExample).where(GalleryExample.preset_id == preset["id"])).all()
        assert len(stored) == 20 and {e.provider for e in stored} == {"ACME_EDITOR"}
    listed = runner.invoke(args=["providers", "list"])
    assert "ACME_EDITOR" in listed.output and "active" in listed.output


def test_a_model_added_while_a_consumer_runs_is_generated_by_it_without_a_restart(make_app, replicate_server, tmp_path):
    """Acceptance 1, across processes: a real `huey_consumer` started before the model was added runs its job."""
    with isolated_queue() as url:
        app = make_app(queue=url, replicate=replicate_server)
        consumer = Consumer(app.config["TEST_ENV"], tmp_path / "consumer.log", workers=2)
        try:
            consumer.start(app.extensions["pixelglow"].progress)
            args = ["providers", "add", "acme/portrait-editor", "--key", "ACME_EDITOR", "--yes"]
            added = app.test_cli_runner().invoke(args=args)
            assert added.exit_code == 0, added.output
            client = app.test_client()
            preset = create_preset(client, name="Acme", provider="ACME_EDITOR")
            job = wait_for_job(app, post_generate(client, preset["id"]).get_json()["jobId"], timeout=120)
        finally:
            consumer.stop()
    assert job.status == "succeeded", (job.error, consumer.log_tail())
    assert [c["model"] for c in replicate_server.creates] == ["acme/portrait-editor"] * 20


def test_the_proposal_refuses_a_reference_field_that_is_no_image_uri(make_app, replicate_server):
    runner = make_app(replicate=replicate_server).test_cli_runner()
    result = runner.invoke(args=["providers", "add", "acme/portrait-editor", "--reference-field", "seed", "--yes"])
    assert result.exit_code == 1 and "'seed' is not a URI input of acme/portrait-editor" in result.output
    bad = runner.invoke(args=["providers", "add", "not a model", "--yes"])
    assert bad.exit_code == 2 and "is not a Replicate model" in bad.output


def test_a_retired_provider_asks_its_presets_to_switch_and_generate_answers_409(admin_client):
    """Acceptance 4 (its API and CLI side): the preset page says so and names the active providers; generate
    answers 409 naming them; the job history keeps the provider's name."""
    app = admin_client.application
    preset = create_preset(admin_client, provider="FLUX_PRO")
    result = app.test_cli_runner().invoke(args=["providers", "retire", "FLUX_PRO"])
    assert result.exit_code == 0 and 'Preset "Professional Headshot" uses it' in result.output
    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert "is retired" in page and "STABLE_DIFFUSION" in page
    response = post_generate(app.test_client(), preset["id"])
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert "FLUX 1.1 Pro (FLUX_PRO) is retired" in error and "Nano Banana (NANO_BANANA), FLUX Kontext Pro" in error
    shown = app.test_cli_runner().invoke(args=["providers", "show", "FLUX_PRO"])
    assert "(retired)" in shown.output and "presets: 1" in shown.output
