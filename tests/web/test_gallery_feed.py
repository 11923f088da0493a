"""Issue 17, the gallery feed for the consumer app: `GET /api/presets/<id>/gallery` behind its own token (or
public), the curated gallery only and in order, ETag / 304, signed `/feed-media/` links that load without a
session, its own rate limit, and production refusing to start with the feed neither guarded nor public."""

from __future__ import annotations

import io
import re
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image

from app.core.config import ConfigError, load_settings
from app.core.database import db
from app.models import GalleryExample
from app.storage.local import MediaStorage
from app.web.feed import links as feed_links
from app.web.feed.gallery import row_values
from tests.conftest import API_TOKEN, auth_headers, create_admin, create_preset, post_generate, sign_in
from tests.factories import seed
from tests.helpers import PRODUCTION, curated, gallery

FEED_TOKEN = "feed-token-0123456789abcdef"
FEED = {"Authorization": f"Bearer {FEED_TOKEN}"}
STATES = ["unreviewed", "approved", "featured", "rejected", "approved", "featured", "unreviewed", "approved"] * 3


@pytest.fixture
def feed_app(make_app):
    return make_app(GALLERY_FEED_TOKEN=FEED_TOKEN)


def feed_url(preset_id: str) -> str:
    return f"/api/presets/{preset_id}/gallery"


def png_bytes(colour=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, "PNG")
    return out.getvalue()


def seeded_preset(app, states=STATES, positions=None) -> tuple[str, list[str]]:
    """A preset with one example per state, each with a real PNG in the media folder."""
    preset = create_preset(app.test_client())
    ids = seed(app, preset["id"], states, positions=positions)
    storage = app.extensions["pixelglow"].storage
    for n in range(len(states)):
        storage.save_bytes(f"examples/{preset['id']}/{n}.png", png_bytes((n * 10, 40, 40)))
    return preset["id"], ids


def feed(client, preset_id, headers=FEED, **params):
    response = client.get(feed_url(preset_id), query_string=params, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response


def set_state(client, preset_id, example_id, state):
    path = f"/api/admin/presets/{preset_id}/gallery/{example_id}/state"
    assert client.post(path, json={"state": state}, headers=auth_headers()).status_code == 200


# --- who may read it ---------------------------------------------------------------------------------------


def test_the_feed_needs_its_token_and_no_other(feed_app):
    client = feed_app.test_client()
    preset_id, _ = seeded_preset(feed_app)
    for headers, says in (
        ({}, "needs its token"),
        ({"Authorization": "Bearer not-the-feed-token-000"}, "token is wrong"),
        ({"Authorization": f"Bearer {API_TOKEN}"}, "token is wrong"),  # the admin token is no feed token
        ({"Authorization": f"Basic {FEED_TOKEN}"}, "needs its token"),
    ):
        response = client.get(feed_url(preset_id), headers=headers)
        assert response.status_code == 401, headers
        assert says in response.get_json()["error"] and "GALLERY_FEED_TOKEN" in response.get_json()["error"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert feed(client, preset_id).get_json()["presetId"] == preset_id
    assert feed(client, preset_id, headers={"Authorization": f"bearer {FEED_TOKEN}"}).status_code == 200
    head = client.head(feed_url(preset_id), headers=FEED)
    assert head.status_code == 200 and head.get_data() == b"" and head.headers["ETag"]


def test_an_admin_session_is_no_credential_and_the_feed_sets_no_cookie(feed_app):
    create_admin(feed_app)
    browser = feed_app.test_client()
    sign_in(browser)
    preset_id, _ = seeded_preset(feed_app)
    refused = browser.get(feed_url(preset_id))
    assert refused.status_code == 401 and "Set-Cookie" not in refused.headers
    allowed = browser.get(feed_url(preset_id), headers=FEED)
    assert allowed.status_code == 200 and "Set-Cookie" not in allowed.headers


def test_without_a_token_configured_development_refuses_and_says_how_to_set_it_up(make_app):
    app = make_app()
    preset_id, _ = seeded_preset(app)
    response = app.test_client().get(feed_url(preset_id), headers=FEED)
    assert response.status_code == 401
    assert (
        "GALLERY_FEED_TOKEN" in response.get_json()["error"] and "GALLERY_FEED_PUBLIC=1" in response.get_json()["error"]
    )


def test_public_mode_needs_no_token_and_is_publicly_cacheable(make_app):
    app = make_app(GALLERY_FEED_PUBLIC="1")
    preset_id, _ = seeded_preset(app)
    response = feed(app.test_client(), preset_id, headers={})
    assert "public" in response.headers["Cache-Control"] and "max-age=60" in response.headers["Cache-Control"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]


def test_behind_the_token_the_answer_is_private_and_has_no_cors(feed_app):
    preset_id, _ = seeded_preset(feed_app)
    response = feed(feed_app.test_client(), preset_id)
    assert "private" in response.headers["Cache-Control"] and "max-age=60" in response.headers["Cache-Control"]
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Authorization" in response.headers["Vary"]


def test_an_unknown_preset_is_a_json_404_but_only_for_a_caller_with_the_token(feed_app):
    client = feed_app.test_client()
    response = client.get(feed_url("no-such-preset"), headers=FEED)
    assert response.status_code == 404 and "no-such-preset" in response.get_json()["error"]
    assert client.get(feed_url("no-such-preset")).status_code == 401  # nothing learnt without the token


def test_bad_paging_is_a_400_naming_the_value(feed_app):
    preset_id, _ = seeded_preset(feed_app)
    response = feed_app.test_client().get(feed_url(preset_id), query_string={"perPage": "1000"}, headers=FEED)
    assert response.status_code == 400 and "perPage" in response.get_json()["error"]


def test_only_a_get(feed_app):
    preset_id, _ = seeded_preset(feed_app)
    assert feed_app.test_client().post(feed_url(preset_id), headers=FEED).status_code == 405


# --- what it returns ---------------------------------------------------------------------------------------


def test_only_featured_and_approved_in_the_curated_order_page_after_page(feed_app):
    positions = [None, 2, None, None, 1, 0, None, None] * 3
    preset_id, _ = seeded_preset(feed_app, positions=positions)
    expected = curated(feed_app, preset_id, states=("featured", "approved"))
    assert len(expected) == 15
    client = feed_app.test_client()
    ids, url, pages = [], f"{feed_url(preset_id)}?perPage=4", 0
    while url:
        body = client.get(url, headers=FEED).get_json()
        assert body["total"] == 15 and body["perPage"] == 4
        assert {item["state"] for item in body["items"]} <= {"featured", "approved"}
        ids += [item["id"] for item in body["items"]]
        url, pages = body["next"], pages + 1
    assert ids == expected and pages == 4
    whole = feed(client, preset_id, perPage=100).get_json()
    assert [item["id"] for item in whole["items"]] == expected and whole["next"] is None


def test_items_carry_the_admin_apis_fields_with_their_own_image_links(feed_app):
    preset_id, _ = seeded_preset(feed_app)
    client = feed_app.test_client()
    admin = client.get(f"/api/admin/presets/{preset_id}/gallery", headers=auth_headers()).get_json()["items"]
    by_id = {item["id"]: item for item in admin}
    for item in feed(client, preset_id).get_json()["items"]:
        assert item.keys() == by_id[item["id"]].keys()
        assert {k: v for k, v in item.items() if not k.endswith("Url")} == {
            k: v for k, v in by_id[item["id"]].items() if not k.endswith("Url")
        }
        assert by_id[item["id"]]["imageUrl"].startswith("/media/") and item["imageUrl"].startswith("/feed-media/")


class PublicBucket(MediaStorage):
    """A storage whose URLs are absolute, as S3's are (public or presigned)."""

    def url(self, key: str) -> str:
        return f"https://bucket.example.com/{key}"


def test_an_absolute_storage_url_is_handed_out_as_it_is(feed_app):
    services = feed_app.extensions["pixelglow"]
    services.storage = PublicBucket(services.storage.root)
    preset_id, _ = seeded_preset(feed_app)
    items = feed(feed_app.test_client(), preset_id).get_json()["items"]
    assert items and all(i["imageUrl"].startswith(f"https://bucket.example.com/examples/{preset_id}/") for i in items)


def test_public_base_url_makes_the_signed_links_absolute(make_app):
    app = make_app(GALLERY_FEED_TOKEN=FEED_TOKEN, PUBLIC_BASE_URL="https://admin.example.com")
    preset_id, _ = seeded_preset(app)
    items = feed(app.test_client(), preset_id).get_json()["items"]
    assert items and all(i["imageUrl"].startswith("https://admin.example.com/feed-media/examples/") for i in items)


# --- caching -----------------------------------------------------------------------------------------------


def etag_of(client, preset_id, **params) -> str:
    return feed(client, preset_id, **params).headers["ETag"]


def test_the_etag_is_stable_and_changes_with_the_curated_gallery(feed_app):
    preset_id, ids = seeded_preset(feed_app)
    client = feed_app.test_client()
    first = etag_of(client, preset_id)
    assert first.startswith('W/"') and etag_of(client, preset_id) == first
    seed(feed_app, preset_id, ["unreviewed", "rejected"])  # not in the feed: nothing to refetch
    assert etag_of(client, preset_id) == first
    set_state(client, preset_id, ids[1], "featured")  # approved → featured: same rows, another order
    after_verdict = etag_of(client, preset_id)
    assert after_verdict != first
    moved = client.post(
        f"/api/admin/presets/{preset_id}/gallery/{ids[2]}/move", json={"direction": "later"}, headers=auth_headers()
    )
    assert moved.status_code == 200
    after_move = etag_of(client, preset_id)
    assert after_move != after_verdict
    set_state(client, preset_id, ids[0], "approved")  # a new example in the feed
    assert etag_of(client, preset_id) != after_move
    assert etag_of(client, preset_id, perPage=5) != etag_of(client, preset_id)  # each page its own


def test_the_etag_and_the_links_change_with_the_day_only(feed_app, monkeypatch):
    preset_id, _ = seeded_preset(feed_app)
    client = feed_app.test_client()
    start = (time.time() // feed_links.DAY) * feed_links.DAY  # today, 00:00 UTC
    monkeypatch.setattr(time, "time", lambda: start + 60)
    morning = feed(client, preset_id)
    monkeypatch.setattr(time, "time", lambda: start + feed_links.DAY - 60)
    evening = feed(client, preset_id)
    assert evening.headers["ETag"] == morning.headers["ETag"] and evening.get_json() == morning.get_json()
    monkeypatch.setattr(time, "time", lambda: start + feed_links.DAY + 60)
    tomorrow = feed(client, preset_id)
    assert tomorrow.headers["ETag"] != morning.headers["ETag"]
    assert tomorrow.get_json()["items"][0]["imageUrl"] != morning.get_json()["items"][0]["imageUrl"]


def test_a_matching_if_none_match_gets_a_304(feed_app):
    preset_id, ids = seeded_preset(feed_app)
    client = feed_app.test_client()
    etag = etag_of(client, preset_id)
    bare = etag[2:]  # '"…"': the strong form matches too (weak comparison)
    for header in (etag, bare, f'"stale", {etag}', "*"):
        response = client.get(feed_url(preset_id), headers={**FEED, "If-None-Match": header})
        assert response.status_code == 304, header
        assert response.get_data() == b"" and response.headers["ETag"] == etag
        assert "max-age=60" in response.headers["Cache-Control"]
    assert client.get(feed_url(preset_id), headers={**FEED, "If-None-Match": '"stale"'}).status_code == 200
    assert client.get(feed_url(preset_id), headers={"If-None-Match": etag}).status_code == 401  # token first
    set_state(client, preset_id, ids[1], "rejected")
    assert client.get(feed_url(preset_id), headers={**FEED, "If-None-Match": etag}).status_code == 200


# --- signed media links ------------------------------------------------------------------------------------


def first_link(app, preset_id) -> str:
    return feed(app.test_client(), preset_id).get_json()["items"][0]["imageUrl"]


def test_a_signed_link_loads_without_a_session_and_without_a_cookie(feed_app):
    preset_id, _ = seeded_preset(feed_app)
    link = first_link(feed_app, preset_id)
    assert re.fullmatch(
        rf"/feed-media/examples/{preset_id}/\d+\.png\?example=[0-9a-f]{{32}}&expires=\d+&signature=[\w-]{{43}}", link
    )
    stranger = feed_app.test_client()
    response = stranger.get(link)
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert Image.open(io.BytesIO(response.get_data())).size == (8, 8)
    assert response.headers["X-Content-Type-Options"] == "nosniff" and "Set-Cookie" not in response.headers
    cache = response.headers["Cache-Control"]
    assert "public" in cache and 0 < int(re.search(r"max-age=(\d+)", cache).group(1)) <= feed_links.DAY
    assert stranger.get(urlsplit(link).path.replace("/feed-media/", "/media/")).status_code == 401  # admin's stays


def test_a_tampered_or_expired_link_is_refused(feed_app, monkeypatch):
    preset_id, _ = seeded_preset(feed_app)
    link = first_link(feed_app, preset_id)
    path, query = urlsplit(link).path, parse_qs(urlsplit(link).query)
    expires, signature = query["expires"][0], query["signature"][0]
    client = feed_app.test_client()
    other_key = re.sub(r"/\d+\.png$", "/999.png", path)
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    for tampered in (
        f"{path}?expires={expires}&signature={flipped}",
        f"{path}?expires={int(expires) + feed_links.DAY}&signature={signature}",  # a longer life
        f"{other_key}?expires={expires}&signature={signature}",  # another image
        f"{path}?expires={expires}",
        path,
        f"{path}?expires=-1&signature={signature}",
        f"{path}?expires={'9' * 40}&signature={signature}",
    ):
        response = client.get(tampered, headers={"Accept": "application/json"})
        assert response.status_code == 403, tampered
        assert "fresh links" in response.get_json()["error"]
    monkeypatch.setattr(time, "time", lambda: int(expires) + 1)
    assert client.get(link).status_code == 403
    monkeypatch.setattr(time, "time", lambda: int(expires) - 1)
    assert client.get(link).status_code == 200


def with_sizes(app, preset_id, example_id) -> None:
    """Give an example a thumbnail and a medium size, as the pipeline stores them next to the original."""
    storage = app.extensions["pixelglow"].storage
    with app.app_context():
        example = db.session.get(GalleryExample, example_id)
        stem = example.image_path.rsplit(".", 1)[0]
        example.thumb_path, example.medium_path = f"{stem}-thumb.webp", f"{stem}-medium.webp"
        for key in (example.thumb_path, example.medium_path):
            out = io.BytesIO()
            Image.new("RGB", (4, 4)).save(out, "WEBP")
            storage.save_bytes(key, out.getvalue())
        db.session.commit()


def max_age(response) -> int:
    return int(re.search(r"max-age=(\d+)", response.headers["Cache-Control"]).group(1))


def test_a_rejected_examples_links_answer_404_at_once_and_caches_keep_nothing_long(feed_app):
    """A signed link outlives a verdict: its image, thumbnail and medium load only while the example is in the
    feed, and any cache keeps them (or their 404) for minutes, not for the link's day."""
    preset_id, ids = seeded_preset(feed_app)
    approved = ids[1]
    with_sizes(feed_app, preset_id, approved)
    item = next(i for i in feed(feed_app.test_client(), preset_id).get_json()["items"] if i["id"] == approved)
    links = [item["imageUrl"], item["thumbUrl"], item["mediumUrl"]]
    client = feed_app.test_client()
    for link in links:
        served = client.get(link)
        assert served.status_code == 200 and "public" in served.headers["Cache-Control"], link
        assert 0 < max_age(served) <= 300
    set_state(client, preset_id, approved, "rejected")
    for link in links:
        gone = client.get(link, headers={"Accept": "application/json"})
        assert gone.status_code == 404 and "no longer in the gallery feed" in gone.get_json()["error"], link
        assert max_age(gone) <= 300
    set_state(client, preset_id, approved, "featured")  # back in the feed: the same links load again
    assert [client.get(link).status_code for link in links] == [200, 200, 200]
    other = next(i for i in feed(client, preset_id).get_json()["items"] if i["id"] != approved)
    borrowed = links[0].replace(f"example={approved}", f"example={other['id']}")  # a published example, not its key
    assert client.get(borrowed).status_code == 404


def test_a_signed_link_serves_gallery_images_only(feed_app):
    """Even a well-signed link reaches nothing but an image under examples/ in the media folder."""
    services = feed_app.extensions["pixelglow"]
    secret, expires = services.settings.secret_key, int(time.time()) + 3600
    services.storage.save_bytes("references/male_01.png", png_bytes())
    services.storage.save_bytes("examples/p/j/notes.txt", b"<script>alert(1)</script>")
    client = feed_app.test_client()
    for key, status in (
        ("references/male_01.png", 404),
        ("examples/p/j/notes.txt", 404),
        ("examples/p/j/missing.png", 404),
        ("examples/../references/male_01.png", 404),
    ):
        url = f"/feed-media/{key}?expires={expires}&signature={feed_links.signature(secret, key, expires)}"
        assert client.get(url).status_code == status, key


# --- media in S3 (moto's server on 127.0.0.1) ---------------------------------------------------------------


def s3_feed(make_app, moto_s3, public: bool = False):
    """A feed app whose media go to a fresh bucket (`public`: the bucket's own address as S3_PUBLIC_BASE_URL);
    an offline job stores 20 examples there, then verdicts and a manual place make a curated gallery (4
    featured, 6 approved, 2 rejected, the rest unreviewed)."""
    bucket = moto_s3.new_bucket()
    public_base = {"S3_PUBLIC_BASE_URL": f"{moto_s3.url}/{bucket}"} if public else {}
    app = make_app(GALLERY_FEED_TOKEN=FEED_TOKEN, **moto_s3.env(bucket, **public_base))
    client = app.test_client()
    preset_id = create_preset(client)["id"]
    assert post_generate(client, preset_id).status_code == 202
    ids = [item["id"] for item in gallery(client, preset_id, perPage=100)["items"]]
    assert len(ids) == 20
    verdicts = ["featured", "approved", "featured", "approved", "rejected", "approved"] * 2
    for example_id, state in zip(ids[: len(verdicts)], verdicts, strict=True):
        set_state(client, preset_id, example_id, state)
    path = f"/api/admin/presets/{preset_id}/gallery/{ids[3]}/move"
    assert client.post(path, json={"direction": "earlier"}, headers=auth_headers()).status_code == 200
    return app, bucket, preset_id


def bucket_images(moto_s3, bucket: str, preset_id: str, items: list[dict]) -> dict[str, str]:
    """Every image link of the feed's items (the image and any size stored next to it) → its key in the bucket."""
    urls = [url for item in items for name, url in item.items() if name.endswith("Url") and url is not None]
    prefix = f"{moto_s3.url}/{bucket}/"
    assert urls and all(url.startswith(f"{prefix}examples/{preset_id}/") for url in urls), urls
    assert not any("/feed-media/" in url for url in urls)
    keys = {url: urlsplit(url).path.removeprefix(f"/{bucket}/") for url in urls}
    assert set(keys.values()) <= set(moto_s3.keys(bucket))
    return keys


def test_with_s3_the_feed_links_to_the_bucket_and_the_links_load_without_any_session(make_app, moto_s3, immediate_huey):
    app, bucket, preset_id = s3_feed(make_app, moto_s3)
    items = feed(app.test_client(), preset_id).get_json()["items"]
    assert [item["id"] for item in items] == curated(app, preset_id, states=("featured", "approved"))
    assert len(items) == 10
    s3 = moto_s3.client()
    with httpx.Client() as stranger:  # no cookie, no token: the presigned URL is the only credential
        for url, key in bucket_images(moto_s3, bucket, preset_id, items).items():
            assert "X-Amz-Signature=" in url and parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["3600"]
            image = stranger.get(url)
            sized = key.endswith(("-thumb.webp", "-medium.webp"))  # an example's sizes, next to its original
            assert image.status_code == 200 and image.headers["Content-Type"] == (
                "image/webp" if sized else "image/png"
            )
            assert image.content == s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert sized or Image.open(io.BytesIO(image.content)).size == (512, 640)
            assert stranger.get(url.split("?", 1)[0]).status_code == 403  # the bucket itself is private
        assert not stranger.cookies


def test_with_s3_and_a_public_base_url_the_feed_hands_out_the_public_addresses(make_app, moto_s3, immediate_huey):
    app, bucket, preset_id = s3_feed(make_app, moto_s3, public=True)
    items = feed(app.test_client(), preset_id).get_json()["items"]
    assert len(items) == 10
    s3 = moto_s3.client()
    with httpx.Client() as stranger:
        for url, key in bucket_images(moto_s3, bucket, preset_id, items).items():
            assert url == f"{moto_s3.url}/{bucket}/{key}"  # no signature: the bucket (or its CDN) is public
            assert stranger.get(url).status_code == 403  # not yet: moto's bucket is private until told
            s3.put_object_acl(Bucket=bucket, Key=key, ACL="public-read")
            image = stranger.get(url)
            assert image.status_code == 200 and image.content == s3.get_object(Bucket=bucket, Key=key)["Body"].read()


# --- its own rate limit ------------------------------------------------------------------------------------


def test_the_feed_has_its_own_rate_limit_and_says_when_to_come_back(make_app):
    app = make_app(GALLERY_FEED_TOKEN=FEED_TOKEN, GALLERY_FEED_LIMITS="3 per minute")
    preset_id, _ = seeded_preset(app)
    client = app.test_client()
    link = first_link(app, preset_id)  # one request of the feed's three
    assert [client.get(feed_url(preset_id), headers=FEED).status_code for _ in range(3)] == [200, 200, 429]
    limited = client.get(feed_url(preset_id), headers=FEED)
    assert "Too many gallery feed requests" in limited.get_json()["error"] and int(limited.headers["Retry-After"]) > 0
    assert [client.get(link).status_code for _ in range(4)] == [200, 200, 200, 429]  # the images count apart
    assert client.get(f"/api/admin/presets/{preset_id}/gallery", headers=auth_headers()).status_code == 200


# --- configuration -----------------------------------------------------------------------------------------


@pytest.mark.fast
@pytest.mark.parametrize(
    "change, loads",
    [
        ({"GALLERY_FEED_TOKEN": None}, False),
        ({"GALLERY_FEED_TOKEN": None, "GALLERY_FEED_PUBLIC": "1"}, True),
        ({"GALLERY_FEED_TOKEN": "short"}, False),
        ({"GALLERY_FEED_TOKEN": PRODUCTION["ADMIN_API_TOKEN"]}, False),
        ({"GALLERY_FEED_PUBLIC": "yes"}, False),
        ({"GALLERY_FEED_LIMITS": "lots"}, False),
        ({}, True),
    ],
)
def test_production_refuses_a_feed_neither_guarded_nor_public(tmp_path, change, loads):
    environ = {**PRODUCTION, "INSTANCE_PATH": str(tmp_path), **change}
    environ = {k: v for k, v in environ.items() if v is not None}
    if loads:
        settings = load_settings(environ)
        assert settings.gallery_feed_public or settings.gallery_feed_token == PRODUCTION["GALLERY_FEED_TOKEN"]
        return
    with pytest.raises(ConfigError, match="GALLERY_FEED"):
        load_settings(environ)


@pytest.mark.fast
def test_the_examples_rows_all_count_in_the_etag():
    """Every column of an example is in its ETag fingerprint (a column added later is too)."""
    example = GalleryExample(id="x", preset_id="p", model_id="m", state="approved", position=3, image_path="k.png")
    values = row_values(example)
    assert len(values) == len(GalleryExample.__table__.columns) and "k.png" in values and 3 in values
