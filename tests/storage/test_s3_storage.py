"""Media in an S3 bucket (moto's server on 127.0.0.1, never AWS): what the pipeline stores there, multipart
uploads in bounded memory, day-stable presigned URLs, public URLs, the CSP, deleting a preset's media."""

from __future__ import annotations

import io
import os
import re
import tracemalloc
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import botocore.auth
import httpx
import pytest
from botocore.credentials import Credentials
from PIL import Image

from app.core.config import ConfigError, load_settings
from app.core.s3_settings import load_s3_settings
from app.health.readiness import readiness_checks
from app.storage import s3 as s3_module
from app.storage.base import StorageError
from app.storage.local import MediaStorage
from app.storage.s3 import S3Storage
from tests.conftest import auth_headers, base_env, create_admin, create_preset, post_generate, sign_in

MiB = 1024 * 1024


def s3_app(make_app, moto_s3, bucket: str, **env):
    app = make_app(**moto_s3.env(bucket), **env)
    assert isinstance(app.extensions["pixelglow"].storage, S3Storage)
    return app


def test_an_offline_job_stores_its_examples_in_the_bucket_and_the_pages_link_to_them(make_app, moto_s3, immediate_huey):
    bucket = moto_s3.new_bucket()
    app = s3_app(make_app, moto_s3, bucket)
    client = app.test_client()
    preset = create_preset(client)
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]

    stored = moto_s3.keys(bucket)  # each example's original and its two sizes
    assert len(stored) == 60 and all(key.startswith(f"examples/{preset['id']}/{job_id}/") for key in stored)
    names = [key.rsplit("/", 1)[1] for key in stored]
    for pattern in (r"\.png", r"-thumb\.webp", r"-medium\.webp"):
        assert sum(bool(re.fullmatch(rf"(male|female)_\d\d-0{pattern}", n)) for n in names) == 20, pattern
    s3 = moto_s3.client()
    types = {key.rsplit("-", 1)[-1]: s3.head_object(Bucket=bucket, Key=key)["ContentType"] for key in stored}
    assert types == {"0.png": "image/png", "thumb.webp": "image/webp", "medium.webp": "image/webp"}
    assert not (app.extensions["pixelglow"].settings.media_dir / "examples").exists()  # nothing in the folder

    items = client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).get_json()["gallery"]["items"]
    url = items[0]["imageUrl"]
    assert url.startswith(f"{moto_s3.url}/{bucket}/examples/{preset['id']}/") and "X-Amz-Signature=" in url
    image = httpx.get(url)  # no sign-in: the URL itself is the permission
    assert image.status_code == 200 and Image.open(io.BytesIO(image.content)).size == (512, 640)

    create_admin(app)
    sign_in(client)
    page = client.get(f"/admin/presets/{preset['id']}")
    html = page.get_data(as_text=True)
    assert items[0]["thumbUrl"].startswith(f"{moto_s3.url}/{bucket}/examples/")
    assert items[0]["thumbUrl"].replace("&", "&amp;") in html  # the grid loads the thumbnails from the bucket
    assert f"img-src 'self' data: {moto_s3.url};" in page.headers["Content-Security-Policy"]
    media = client.get(f"/media/{stored.popitem()[0]}")  # an old /media/ link goes to the bucket
    assert media.status_code == 302 and media.headers["Location"].startswith(f"{moto_s3.url}/{bucket}/examples/")


def test_without_a_bucket_media_stays_in_the_local_folder(make_app, moto_s3, immediate_huey):
    app = make_app(**moto_s3.env(None))  # credentials and endpoint, but no S3_BUCKET
    storage = app.extensions["pixelglow"].storage
    assert isinstance(storage, MediaStorage)
    client = app.test_client()
    preset = create_preset(client)
    post_generate(client, preset["id"])
    item = client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).get_json()["gallery"]["items"][0]
    assert item["imageUrl"].startswith("/media/examples/")
    assert len(list((storage.root / "examples" / preset["id"]).rglob("*.png"))) == 20
    create_admin(app)
    sign_in(client)
    assert "img-src 'self' data:;" in client.get("/admin/presets").headers["Content-Security-Policy"]


def test_a_large_output_from_replicate_streams_into_the_bucket_in_parts(
    make_app, moto_s3, immediate_huey, replicate_server
):
    replicate_server.output_bytes = 12 * MiB  # a 12 MB image: two 8 MiB parts
    bucket = moto_s3.new_bucket()
    app = s3_app(make_app, moto_s3, bucket, replicate=replicate_server)
    client = app.test_client()
    preset = create_preset(client, provider="FLUX_KONTEXT", settings={"output_format": "jpg"})
    response = post_generate(client, preset["id"], {"examplesPerModel": 1, "modelIds": ["male_01", "female_01"]})
    assert response.status_code == 202, response.get_json()
    job = client.get(f"/api/admin/jobs/{response.get_json()['jobId']}", headers=auth_headers()).get_json()
    assert job["status"] == "succeeded", job

    s3 = moto_s3.client()
    stored = {
        key: size for key, size in moto_s3.keys(bucket).items() if not key.endswith(("-thumb.webp", "-medium.webp"))
    }
    assert len(stored) == 2 and all(size >= 12 * MiB for size in stored.values())  # the originals (sizes: small)
    for key in stored:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert key.endswith(".jpg") and head["ContentType"] == "image/jpeg"
        assert head["ETag"].strip('"').endswith("-2")  # a multipart upload's ETag counts its parts
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def storage_on(moto_s3, bucket: str, **kwargs) -> S3Storage:
    return S3Storage(load_s3_settings(moto_s3.env(bucket)), **kwargs)


def test_a_streamed_upload_holds_about_two_parts_in_memory_never_the_whole_image(moto_s3):
    bucket = moto_s3.new_bucket()
    storage = storage_on(moto_s3, bucket, part_size=5 * MiB)
    storage.save_bytes("warm-up.png", b"x")  # the client and its service model are built before measuring
    chunk = os.urandom(64 * 1024)
    total = 30 * MiB

    tracemalloc.start()
    try:
        written = storage.save_stream("examples/p/j/big-0.webp", (chunk for _ in range(total // len(chunk))))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert written == total
    assert peak < 3 * 5 * MiB, f"peak {peak / MiB:.1f} MiB for a {total // MiB} MiB upload in 5 MiB parts"
    head = moto_s3.client().head_object(Bucket=bucket, Key="examples/p/j/big-0.webp")
    assert head["ContentLength"] == total and head["ContentType"] == "image/webp"
    assert head["ETag"].strip('"').endswith("-6")


def test_an_upload_that_fails_midway_stores_nothing(moto_s3):
    bucket = moto_s3.new_bucket()
    storage = storage_on(moto_s3, bucket, part_size=5 * MiB)

    def broken():
        yield os.urandom(6 * MiB)  # one part sent, then the source fails
        raise OSError("the download broke off")

    with pytest.raises(OSError, match="broke off"):
        storage.save_stream("examples/p/j/m-0.png", broken())
    s3 = moto_s3.client()
    assert moto_s3.keys(bucket) == {}
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []  # aborted, no parts kept
    assert storage.exists("examples/p/j/m-0.png") is False


def test_presigned_urls_are_the_same_all_day_and_match_botocores_own_signature(moto_s3, monkeypatch):
    bucket = moto_s3.new_bucket()
    now = {"at": datetime(2026, 11, 24, 0, 0, 1, tzinfo=UTC)}
    storage = storage_on(moto_s3, bucket, clock=lambda: now["at"])
    storage.save_bytes("examples/p/j/m-0.png", b"\x89PNG fake")

    morning = storage.url("examples/p/j/m-0.png")
    now["at"] = datetime(2026, 11, 24, 23, 59, 59, tzinfo=UTC)
    assert storage.url("examples/p/j/m-0.png") == morning
    now["at"] += timedelta(seconds=2)
    tomorrow = storage.url("examples/p/j/m-0.png")
    assert tomorrow != morning

    query = parse_qs(urlsplit(morning).query)
    assert query["X-Amz-Date"] == ["20261124T000000Z"] and query["X-Amz-Expires"] == [str(2 * 24 * 3600)]
    assert parse_qs(urlsplit(tomorrow).query)["X-Amz-Date"] == ["20261125T000000Z"]
    assert httpx.get(morning).content == b"\x89PNG fake"

    # botocore's presigner, its clock frozen at the same instant, signs the very same URL
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: datetime(2026, 11, 24))
    theirs = moto_s3.client().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "examples/p/j/m-0.png"}, ExpiresIn=2 * 24 * 3600
    )
    assert parse_qs(urlsplit(theirs).query) == query and urlsplit(theirs).path == urlsplit(morning).path


def test_short_urls_work_for_an_hour_at_most_and_stay_the_same_for_half_an_hour(moto_s3):
    """What the gallery feed hands out: a presigned URL cannot be revoked, so it must end soon."""
    bucket = moto_s3.new_bucket()
    now = {"at": datetime(2026, 11, 24, 8, 30, 1, tzinfo=UTC)}
    storage = storage_on(moto_s3, bucket, clock=lambda: now["at"])
    storage.save_bytes("examples/p/j/m-0.png", b"\x89PNG fake")
    first = storage.short_url("examples/p/j/m-0.png")
    query = parse_qs(urlsplit(first).query)
    assert query["X-Amz-Date"] == ["20261124T083000Z"] and query["X-Amz-Expires"] == ["3600"]
    assert httpx.get(first).content == b"\x89PNG fake"
    now["at"] = datetime(2026, 11, 24, 8, 59, 59, tzinfo=UTC)
    assert storage.short_url("examples/p/j/m-0.png") == first
    now["at"] += timedelta(seconds=2)
    assert parse_qs(urlsplit(storage.short_url("examples/p/j/m-0.png")).query)["X-Amz-Date"] == ["20261124T090000Z"]
    assert parse_qs(urlsplit(storage.url("examples/p/j/m-0.png")).query)["X-Amz-Expires"] == [str(2 * 24 * 3600)]


def test_a_url_is_signed_once_a_day_and_anew_when_the_credentials_change(moto_s3, monkeypatch):
    bucket = moto_s3.new_bucket()
    now = {"at": datetime(2026, 11, 24, 8, 0, tzinfo=UTC)}
    storage = storage_on(moto_s3, bucket, clock=lambda: now["at"])
    signed = []
    real = s3_module.presign_get
    monkeypatch.setattr(s3_module, "presign_get", lambda *args: signed.append(args[0]) or real(*args))

    first = [storage.url(f"examples/p/j/m-{n}.png") for n in range(3)]
    now["at"] += timedelta(hours=12)
    assert [storage.url(f"examples/p/j/m-{n}.png") for n in range(3)] == first
    assert len(signed) == 3  # once each, however many pages show them that day

    now["at"] += timedelta(hours=6)  # the next day
    assert storage.url("examples/p/j/m-0.png") != first[0] and len(signed) == 4
    rotated = Credentials("rotated-key", "rotated-secret", "a-session-token")  # a role's, refreshed
    monkeypatch.setattr(storage._session, "get_credentials", lambda: rotated)
    assert "rotated-key" in storage.url("examples/p/j/m-0.png") and len(signed) == 5


def test_a_public_base_url_is_used_as_it_is_and_allowed_by_the_csp(make_app, moto_s3, immediate_huey):
    bucket = moto_s3.new_bucket()
    app = s3_app(make_app, moto_s3, bucket, S3_PUBLIC_BASE_URL="https://cdn.example.com/gallery/")
    client = app.test_client()
    preset = create_preset(client)
    post_generate(client, preset["id"])
    item = client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).get_json()["gallery"]["items"][0]
    key = next(iter(moto_s3.keys(bucket)))
    assert item["imageUrl"].startswith(f"https://cdn.example.com/gallery/examples/{preset['id']}/")
    assert "X-Amz-" not in item["imageUrl"]
    assert item["imageUrl"] in {f"https://cdn.example.com/gallery/{k}" for k in moto_s3.keys(bucket)}
    create_admin(app)
    sign_in(client)
    csp = client.get(f"/admin/presets/{preset['id']}").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://cdn.example.com;" in csp

    # the bucket itself as the public base (its objects readable by anyone): the URL loads the object
    moto_s3.client().put_object_acl(Bucket=bucket, Key=key, ACL="public-read")
    direct = storage_on(moto_s3, bucket)
    public = S3Storage(load_s3_settings(moto_s3.env(bucket, S3_PUBLIC_BASE_URL=f"{moto_s3.url}/{bucket}")))
    assert public.url(key) == f"{moto_s3.url}/{bucket}/{key}"
    assert httpx.get(public.url(key)).content == httpx.get(direct.url(key)).content != b""


def test_deleting_a_preset_deletes_its_prefix_in_the_bucket_and_nothing_else(make_app, moto_s3, immediate_huey):
    bucket = moto_s3.new_bucket()
    app = s3_app(make_app, moto_s3, bucket)
    client = app.test_client()
    doomed, kept = create_preset(client, name="Doomed"), create_preset(client, name="Kept")
    for preset in (doomed, kept):
        post_generate(client, preset["id"])
    moto_s3.client().put_object(Bucket=bucket, Key=f"examples/{doomed['id']}x/other.png", Body=b"not its prefix")
    assert len(moto_s3.keys(bucket, f"examples/{doomed['id']}/")) == 60  # 20 originals and their sizes

    assert client.delete(f"/api/admin/presets/{doomed['id']}", headers=auth_headers()).status_code == 200
    assert moto_s3.keys(bucket, f"examples/{doomed['id']}/") == {}
    assert len(moto_s3.keys(bucket, f"examples/{kept['id']}/")) == 60
    assert f"examples/{doomed['id']}x/other.png" in moto_s3.keys(bucket)


def test_delete_tree_pages_through_more_than_a_thousand_keys(moto_s3):
    bucket = moto_s3.new_bucket()
    storage = storage_on(moto_s3, bucket)
    s3 = moto_s3.client()
    for n in range(1005):
        s3.put_object(Bucket=bucket, Key=f"examples/p/j/m-{n}.png", Body=b"x")
    storage.delete_tree("examples/p")
    assert moto_s3.keys(bucket) == {}


def test_a_missing_bucket_is_a_storage_error_and_readyz_names_it(make_app, moto_s3):
    app = s3_app(make_app, moto_s3, "no-such-bucket-here")
    with pytest.raises(StorageError, match="NoSuchBucket"):
        app.extensions["pixelglow"].storage.save_bytes("health/x.txt", b"ok")
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503 and answer.get_json()["down"] == ["storage"]
    assert answer.get_json()["checks"]["storage"] == {"ok": False, "detail": "not writable"}
    with app.app_context():
        check = next(c for c in readiness_checks(app.extensions["pixelglow"]) if c.name == "storage")
    assert "S3_BUCKET" in check.fix and "NoSuchBucket" in check.cause
    assert moto_s3.env()["AWS_SECRET_ACCESS_KEY"] not in check.cause + answer.get_data(as_text=True)


@pytest.mark.fast
@pytest.mark.parametrize(
    "env, named",
    [
        ({"S3_BUCKET": "Not_A_Bucket"}, "S3_BUCKET"),
        ({"S3_BUCKET": "media", "S3_ENDPOINT_URL": "ftp://x"}, "S3_ENDPOINT_URL"),
        ({"S3_PUBLIC_BASE_URL": "https://cdn.example.com"}, "S3_PUBLIC_BASE_URL"),
        ({"S3_BUCKET": "media", "AWS_ACCESS_KEY_ID": "only-the-id"}, "AWS_SECRET_ACCESS_KEY"),
        ({"S3_BUCKET": "media", "AWS_REGION": "eu west"}, "AWS_REGION"),
    ],
)
def test_a_bad_s3_setting_refuses_the_start_naming_the_variable(tmp_path, env, named):
    with pytest.raises(ConfigError, match=named):
        load_settings(base_env(tmp_path, **env))


def test_exists_answers_are_kept_a_minute_and_our_own_writes_update_them(moto_s3, monkeypatch):
    bucket = moto_s3.new_bucket()
    storage = storage_on(moto_s3, bucket)
    key = "references/male_01-thumb.webp"
    storage.save_bytes(key, b"RIFF")
    assert moto_s3.client().head_object(Bucket=bucket, Key=key)["ContentType"] == "image/webp"
    moto_s3.client().delete_object(Bucket=bucket, Key=key)  # another process deletes it
    assert storage.exists(key) is True  # the page's question, answered from memory
    monkeypatch.setattr("app.storage.s3.EXISTS_TTL", 0.0)
    assert storage.exists(key) is False  # asked again once the answer is old
    storage.save_bytes(key, b"RIFF")
    monkeypatch.setattr("app.storage.s3.EXISTS_TTL", 60.0)
    assert storage.exists(key) is True
    storage.delete(key)
    assert storage.exists(key) is False and moto_s3.keys(bucket) == {}


def test_any_key_gets_its_content_type_sizes_included(moto_s3):
    bucket = moto_s3.new_bucket()
    storage = storage_on(moto_s3, bucket)
    for key, expected in [
        ("examples/p/j/male_01-0-thumb.webp", "image/webp"),
        ("examples/p/j/male_01-0-medium.webp", "image/webp"),
        ("examples/p/j/male_01-1.jpg", "image/jpeg"),
        ("health/probe-1", "application/octet-stream"),
    ]:
        storage.save_bytes(key, b"x")
        assert moto_s3.client().head_object(Bucket=bucket, Key=key)["ContentType"] == expected
    with pytest.raises(ValueError, match="unsafe media key"):
        storage.save_bytes("examples/../secrets.png", b"x")


def test_the_bucket_reads_back_what_it_stored_and_a_missing_key_is_not_found(moto_s3):
    """What the sizes backfill reads (the originals), from the bucket as from the local folder."""
    storage = storage_on(moto_s3, moto_s3.new_bucket())
    storage.save_bytes("examples/p/j/m-0.png", b"\x89PNG original")
    assert storage.read_bytes("examples/p/j/m-0.png") == b"\x89PNG original"
    with pytest.raises(FileNotFoundError):
        storage.read_bytes("examples/p/j/missing-0.png")
