"""`flask media migrate --to s3`: the local folder copied into the bucket (moto on 127.0.0.1), resumable,
and the pages show the same examples from the bucket afterwards."""

from __future__ import annotations

import httpx

from tests.conftest import auth_headers, create_admin, create_preset, post_generate, sign_in


def migrate(app, *args):
    return app.test_cli_runner().invoke(args=["media", "migrate", "--to", "s3", *args])


def test_migrate_copies_the_folder_skips_what_is_there_and_the_pages_show_the_bucket(
    make_app, moto_s3, immediate_huey, tmp_path
):
    media = tmp_path / "media"
    local = make_app(MEDIA_DIR=str(media))
    client = local.test_client()
    preset = create_preset(client)
    post_generate(client, preset["id"])
    (media / "references").mkdir()
    (media / "references" / "male_01-thumb.webp").write_bytes(b"RIFF fake webp")
    (media / "examples" / ".part-unfinished").write_bytes(b"half a write")
    files = {p.relative_to(media).as_posix(): p.stat().st_size for p in media.rglob("*") if p.is_file()}
    assert len(files) == 62  # 20 originals, their 40 sizes, a reference thumbnail, an unfinished write

    bucket = moto_s3.new_bucket()
    same_database = local.config["SQLALCHEMY_DATABASE_URI"]  # a URL: make_app keeps its rows
    app = make_app(database=same_database, MEDIA_DIR=str(media), **moto_s3.env(bucket))
    result = migrate(app)
    assert result.exit_code == 0, result.output
    assert "61 files: 61 copied" in result.output and "0 already in the bucket, 0 failed" in result.output
    assert "[61/61]" in result.output
    del files["examples/.part-unfinished"]  # an unfinished write is not media
    assert moto_s3.keys(bucket) == files
    s3 = moto_s3.client()
    assert s3.head_object(Bucket=bucket, Key="references/male_01-thumb.webp")["ContentType"] == "image/webp"

    # resumable: what is there with the same size is skipped, a missing or different object is copied again
    s3.delete_object(Bucket=bucket, Key="references/male_01-thumb.webp")
    changed = next(key for key in files if key.endswith(".png"))
    s3.put_object(Bucket=bucket, Key=changed, Body=b"truncated")
    again = migrate(app)
    assert again.exit_code == 0, again.output
    assert "61 files: 2 copied" in again.output and "59 already in the bucket" in again.output
    assert moto_s3.keys(bucket) == files

    # the same examples, now from the bucket
    items = app.test_client().get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).get_json()
    url = items["gallery"]["items"][0]["imageUrl"]
    assert url.startswith(f"{moto_s3.url}/{bucket}/examples/")
    assert httpx.get(url).content == (media / url.split(f"/{bucket}/", 1)[1].split("?")[0]).read_bytes()
    create_admin(app)
    web = app.test_client()
    sign_in(web)
    thumb = items["gallery"]["items"][0]["thumbUrl"]  # the grid shows the thumbnails, from the bucket too
    assert thumb.startswith(f"{moto_s3.url}/{bucket}/examples/")
    assert thumb.replace("&", "&amp;") in web.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)


def test_migrate_without_s3_configured_says_what_to_set(make_app, moto_s3, tmp_path):
    app = make_app(MEDIA_DIR=str(tmp_path / "media"), **moto_s3.env(None))
    result = migrate(app)
    assert result.exit_code == 1
    assert "S3 is not configured: set S3_BUCKET" in result.output


def test_a_file_that_cannot_be_copied_fails_the_run_by_name_and_the_rest_is_copied(make_app, moto_s3, tmp_path):
    media = tmp_path / "media"
    (media / "examples" / "p" / "j").mkdir(parents=True)
    (media / "examples" / "p" / "j" / "male_01-0.png").write_bytes(b"png")
    (media / "examples" / "p" / "j" / "bad name.png").write_bytes(b"not a media key")
    bucket = moto_s3.new_bucket()
    result = migrate(make_app(MEDIA_DIR=str(media), **moto_s3.env(bucket)))
    assert result.exit_code == 1
    assert "examples/p/j/bad name.png: failed (unsafe media key" in result.output
    assert "1 of 2 files could not be copied (examples/p/j/bad name.png;" in result.output
    assert "Run the command again" in result.output
    assert moto_s3.keys(bucket) == {"examples/p/j/male_01-0.png": 3}


def test_an_unreachable_bucket_stops_before_copying_anything(make_app, moto_s3, tmp_path):
    media = tmp_path / "media"
    (media / "examples").mkdir(parents=True)
    (media / "examples" / "male_01-0.png").write_bytes(b"png")
    result = migrate(make_app(MEDIA_DIR=str(media), **moto_s3.env("no-such-bucket-here")))
    assert result.exit_code == 1
    assert "NoSuchBucket" in result.output and "nothing was copied" in result.output
