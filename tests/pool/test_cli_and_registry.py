"""The flask CLI commands and the models.json registry."""

import json

import pytest

from app.pool.registry import RegistryError, load_registry_file
from tests import factories
from tests.conftest import auth_headers, create_preset, post_generate
from tests.doubles import get_registry


def test_models_check_reports_the_seed_registry(make_app):
    result = make_app().test_cli_runner().invoke(args=["models", "check"])
    assert result.exit_code == 0, result.output
    assert "72 models (36 male + 36 female)" in result.output


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["male"][4].update(id="male_01"), "male[4] (id 'male_01') is a duplicate id"),
        (lambda d: d["female"][2].update(gender="male"), "female[2] (id 'female_03') has gender 'male'"),
        (lambda d: d["male"][7].update(s3Url="http://insecure/x.png"), "male[7] (id 'male_08') has s3Url"),
        (lambda d: d["female"][0].pop("id"), "female[0] has no id"),
    ],
)
def test_a_corrupted_models_file_names_the_bad_entry(make_app, tmp_path, mutate, message):
    data = json.loads(open("models.json").read())
    path = tmp_path / "models.json"
    path.write_text(json.dumps(data))
    app = make_app(MODELS_FILE=str(path))  # a broken file refuses the start (tests/pool/test_registry_guard.py)
    mutate(data)
    path.write_text(json.dumps(data))
    result = app.test_cli_runner().invoke(args=["models", "check"])
    assert result.exit_code != 0
    assert message in result.output
    with pytest.raises(RegistryError, match="models.json"):
        load_registry_file(path)


@pytest.mark.fast
def test_registry_reloads_when_the_file_changes(tmp_path):
    data = json.loads(open("models.json").read())
    path = tmp_path / "models.json"
    path.write_text(json.dumps(data))
    assert len(get_registry(path)) == 72
    assert get_registry(path) is get_registry(path), "an unchanged file is served from memory"
    data["male"] = data["male"][:30]
    path.write_text(json.dumps(data))
    assert len(get_registry(path)) == 66


def test_usage_clear_confirms_and_refuses_unknown_presets(make_app, immediate_huey):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    assert post_generate(client, preset["id"]).status_code == 202
    runner = app.test_cli_runner()

    shown = runner.invoke(args=["usage", "show", preset["name"]])
    assert shown.exit_code == 0 and "20 of 72 models taken" in shown.output

    declined = runner.invoke(args=["usage", "clear", preset["id"]], input="n\n")
    assert declined.exit_code != 0 and "Aborted" in declined.output
    assert client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).get_json()["usage"]["used"] == 20

    cleared = runner.invoke(args=["usage", "clear", preset["name"]], input="y\n")
    assert cleared.exit_code == 0 and "Cleared 20 usage rows" in cleared.output
    detail = client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).get_json()
    assert detail["usage"]["used"] == 0 and detail["gallery"]["total"] == 20, "clearing usage never deletes examples"

    unknown = runner.invoke(args=["usage", "clear", "No Such Preset", "--yes"])
    assert unknown.exit_code != 0 and "No preset with id or name 'No Such Preset'" in unknown.output


def test_usage_clear_refuses_while_a_job_is_live(make_app):
    app = make_app()
    client = app.test_client()
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    preset = create_preset(client)
    post_generate(client, preset["id"])
    result = app.test_cli_runner().invoke(args=["usage", "clear", preset["id"], "--yes"])
    assert result.exit_code != 0 and "job in progress" in result.output


def test_presets_and_generate_commands(make_app, immediate_huey):
    app = make_app()
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["presets", "create", "--name", "Film Noir", "--prompt", "black and white, hard light"]
    )
    assert created.exit_code == 0, created.output
    bad = runner.invoke(args=["presets", "create", "--name", "X", "--prompt", "y", "--provider", "NOPE"])
    assert bad.exit_code != 0 and "provider must be one of" in bad.output
    generated = runner.invoke(args=["generate", "Film Noir", "--wait"])
    assert generated.exit_code == 0, generated.output
    assert "succeeded: 20 stored, 0 failed of 20 (offline placeholders)" in generated.output
    listed = runner.invoke(args=["presets", "list"])
    assert "examples=20" in listed.output and "models=20/72" in listed.output
    unknown = runner.invoke(args=["generate", "Nope"])
    assert unknown.exit_code != 0 and "No preset" in unknown.output


def test_a_name_stored_with_control_characters_prints_escaped_never_raw(make_app):
    """A row written before control characters were refused (or straight into the database) cannot drive the
    terminal of whoever lists the presets: its ESC, OSC and line breaks print as \\x1b, \\n."""
    app = make_app()
    hostile = "Evil\x1b]0;pwned\x07\x1b[2J\nsecond line\x9b"
    preset_id = factories.preset(app, hostile)
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["presets", "list"])
    assert listed.exit_code == 0, listed.output
    assert r"Evil\x1b]0;pwned\x07\x1b[2J\nsecond line\x9b" in listed.output
    assert not any(c in listed.output for c in "\x1b\x07\x9b") and listed.output.count("\n") == 1
    shown = runner.invoke(args=["usage", "show", preset_id])
    assert shown.exit_code == 0 and r"Evil\x1b]0;pwned" in shown.output and "\x1b" not in shown.output
