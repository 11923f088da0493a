"""`flask models sync`: models.json rebuilt from the bucket's photos (moto on 127.0.0.1), ids kept, a used
model that vanished kept as retired (and never selected again), written only with --write."""

from __future__ import annotations

import json
import random
from urllib.parse import urlsplit

import pytest

from app.pool.registry import load_registry_file, parse_registry
from app.pool.selection import choose_models
from tests.conftest import create_preset, post_generate
from tests.factories import mark_used
from tests.helpers import PROJECT

BUCKET = "pixelglow-admin-assets"  # the bucket models.json's URLs name


def fill_bucket(moto_s3, extra_per_gender: int = 4) -> list[str]:
    """The 72 photos of models.json plus `extra_per_gender` new ones of each gender: 40 + 40."""
    s3 = moto_s3.client()
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    for key in moto_s3.keys(BUCKET):
        s3.delete_object(Bucket=BUCKET, Key=key)
    data = json.loads((PROJECT / "models.json").read_text())
    keys = [urlsplit(e["s3Url"]).path.lstrip("/") for g in ("male", "female") for e in data[g]]
    keys += [f"models/{g}/new_{g}_{n}.jpg" for g in ("male", "female") for n in range(extra_per_gender)]
    keys.append("models/male/notes.txt")  # not a photo
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"photo")
    return keys


def sync_app(make_app, moto_s3, tmp_path):
    models = tmp_path / "models.json"
    models.write_text((PROJECT / "models.json").read_text())
    return make_app(MODELS_FILE=str(models), **moto_s3.env(None)), models


def sync(app, *args):
    return app.test_cli_runner().invoke(args=["models", "sync", "--bucket", BUCKET, "--prefix", "models/", *args])


def test_sync_of_40_and_40_photos_reports_8_added_and_writes_only_with_write(make_app, moto_s3, tmp_path):
    fill_bucket(moto_s3)
    app, models = sync_app(make_app, moto_s3, tmp_path)
    before = models.read_bytes()

    dry = sync(app)
    assert dry.exit_code == 0, dry.output
    assert "40 male + 40 female photos" in dry.output and "added 8:" in dry.output
    assert f"+ male_37 https://{BUCKET}.s3.us-east-1.amazonaws.com/models/male/new_male_0.jpg" in dry.output
    assert "unchanged 72" in dry.output and "changed" not in dry.output.replace("unchanged", "")
    assert "Nothing written" in dry.output and models.read_bytes() == before

    written = sync(app, "--write")
    assert written.exit_code == 0, written.output
    assert "Wrote" in written.output and "(80 models)" in written.output
    registry = load_registry_file(models)
    old = load_registry_file(PROJECT / "models.json")
    assert len(registry.male) == len(registry.female) == 40
    assert all(registry.get(m.id) == m for m in old.all)  # every id keeps its photo
    assert [m.id for m in registry.female[-4:]] == ["female_37", "female_38", "female_39", "female_40"]
    assert models.read_text().endswith("}\n") and not list(tmp_path.glob(".models.json.*"))  # no temp file left
    again = sync(app, "--write")
    assert "unchanged 80" in again.output and "is up to date" in again.output


def test_a_used_model_gone_from_the_bucket_is_retired_and_never_selected_an_unused_one_is_removed(
    make_app, moto_s3, tmp_path, immediate_huey
):
    keys = fill_bucket(moto_s3, extra_per_gender=0)
    app, models = sync_app(make_app, moto_s3, tmp_path)
    client = app.test_client()
    preset, other = create_preset(client, name="Used it"), create_preset(client, name="Other")
    mark_used(app, preset["id"], ["male_05"])
    s3 = moto_s3.client()
    for gone in ("male_05_", "female_07_"):
        s3.delete_object(Bucket=BUCKET, Key=next(k for k in keys if f"/{gone}" in k))

    result = sync(app, "--write")
    assert result.exit_code == 0, result.output
    assert "retired 1:" in result.output and "! male_05 (gone from the bucket, used by a preset" in result.output
    assert "removed 1:" in result.output and "- female_07 " in result.output
    entry = next(e for e in json.loads(models.read_text())["male"] if e["id"] == "male_05")
    assert entry["retired"] is True
    registry = load_registry_file(models)
    assert registry.get("female_07") is None and registry.get("male_05").retired

    # never selected again: not at random (all 35 other males first), not by name
    picked = {m.id for _ in range(20) for m in choose_models(registry, set(), 70, random.Random()).models}
    assert "male_05" not in picked and len(picked) == 70
    refused = post_generate(client, other["id"], {"examplesPerModel": 1, "modelIds": ["male_05"]})
    assert refused.status_code == 400 and "retired" in refused.get_json()["error"]

    # back in the bucket: no longer retired
    s3.put_object(Bucket=BUCKET, Key=next(k for k in keys if "/male_05_" in k), Body=b"photo")
    back = sync(app, "--write")
    assert "~ male_05 is back in the bucket" in back.output
    assert not load_registry_file(models).get("male_05").retired


def test_ids_follow_their_photo_when_the_url_base_changes(make_app, moto_s3, tmp_path):
    fill_bucket(moto_s3, extra_per_gender=0)
    app, models = sync_app(make_app, moto_s3, tmp_path)
    result = sync(app, "--url-base", "https://cdn.example.com/assets/", "--write")
    assert result.exit_code == 0, result.output
    assert "changed 72:" in result.output and "added" not in result.output
    registry = load_registry_file(models)
    assert registry.get("male_01").s3_url.startswith("https://cdn.example.com/assets/models/male/male_01_")


def test_an_empty_prefix_or_a_missing_bucket_writes_nothing(make_app, moto_s3, tmp_path):
    fill_bucket(moto_s3, extra_per_gender=0)
    app, models = sync_app(make_app, moto_s3, tmp_path)
    before = models.read_bytes()
    empty = sync(app, "--prefix", "nothing-here/", "--write")
    assert empty.exit_code == 1 and "No photos under s3://pixelglow-admin-assets/nothing-here/male/" in empty.output
    missing = app.test_cli_runner().invoke(args=["models", "sync", "--bucket", "no-such-bucket-here", "--write"])
    assert missing.exit_code == 1 and "NoSuchBucket" in missing.output
    assert models.read_bytes() == before


@pytest.mark.fast
def test_the_loader_accepts_retired_and_refuses_a_retired_that_is_not_a_boolean():
    entry = {"id": "male_01", "gender": "male", "s3Url": "https://b.example.com/m.png"}
    registry = parse_registry({"male": [entry | {"retired": True}], "female": []})
    assert registry.get("male_01").retired and registry.selectable("male") == ()
    try:
        parse_registry({"male": [entry | {"retired": "yes"}], "female": []})
    except ValueError as exc:
        assert "male[0] (id 'male_01') has retired 'yes'; it must be true or false" in str(exc.problems)
    else:
        raise AssertionError("a non-boolean retired was accepted")
