"""`flask models cache` against a local TLS server standing for the photos' CDN: photos and thumbnails land in
storage, a rerun fetches nothing, a failing photo gives a non-zero exit that names it and why."""

from __future__ import annotations

import io
import json
import ssl

import pytest
from PIL import Image

from app.core.config import PROJECT_ROOT
from app.pool.reference_photos import THUMB_BOX, photo_key, thumbnail_bytes
from app.services import Services, services_of
from app.storage.local import MediaStorage
from tests.download_server import (  # noqa: F401 (certificate: the TLS certificate fixture)
    HTML,
    FakeDNS,
    LoopbackIsPublic,
    Server,
    body,
    certificate,
    image_bytes,
    png_declaring,
)
from tests.photos import sideways_jpeg

PHOTOS = {
    "/male_01.jpg": body(sideways_jpeg((600, 400)), "image/jpeg"),
    "/female_01.png": body(image_bytes("PNG", (800, 1000))),
    "/female_02.webp": body(image_bytes("WEBP", (200, 250)), "image/webp"),
    "/error-page.jpg": body(HTML, "text/html"),
    "/forbidden.jpg": body(b"AccessDenied", "application/xml", 403),
    "/bomb.png": body(png_declaring(20000, 20000)),
}


@pytest.fixture
def cdn(certificate):  # noqa: F811 (the fixture imported above)
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Server(dict(PHOTOS), tls=context)
    yield server
    server.close()


def registry_file(tmp_path, cdn, male: dict, female: dict):
    """A models.json whose photos live on the test CDN (https://cdn.test:<port>/...)."""
    path = tmp_path / "models.json"
    data = {
        gender: [{"id": i, "gender": gender, "s3Url": f"https://cdn.test:{cdn.port}{p}"} for i, p in models.items()]
        for gender, models in (("male", male), ("female", female))
    }
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def cache_app(make_app, tmp_path, cdn, certificate, monkeypatch):  # noqa: F811
    """An app whose reference downloader reaches the test CDN: cdn.test resolves to 127.0.0.1, which this
    downloader alone takes for a public address, and TLS trusts the test certificate. Every other check
    (https, the size cap, the image checks) is the real one."""
    client_tls = ssl.create_default_context(cafile=str(certificate[0]))
    downloader = LoopbackIsPublic(
        None, resolver=FakeDNS({"cdn.test": ["127.0.0.1"]}), ssl_context=client_tls, temp_dir=tmp_path / "dl"
    )
    monkeypatch.setattr(Services, "reference_downloader", lambda self: downloader)

    def factory(male: dict, female: dict):
        return make_app(MODELS_FILE=str(registry_file(tmp_path, cdn, male, female)))

    return factory


def run_cache(app, *args):
    return app.test_cli_runner().invoke(args=["models", "cache", *args])


def test_cache_stores_each_photo_and_an_upright_thumbnail_and_a_rerun_fetches_nothing(cache_app, cdn):
    app = cache_app({"male_01": "/male_01.jpg"}, {"female_01": "/female_01.png", "female_02": "/female_02.webp"})
    result = run_cache(app)
    assert result.exit_code == 0, result.output
    assert "[1/3]" in result.output and "[3/3]" in result.output
    assert "3 models: 3 cached now, 0 already cached, 0 failed." in result.output
    storage = services_of(app).storage
    assert isinstance(storage, MediaStorage)
    assert photo_key(storage, "male_01") == "references/male_01.jpg"
    assert photo_key(storage, "female_01") == "references/female_01.png"
    assert photo_key(storage, "female_02") == "references/female_02.webp"
    assert (storage.root / "references/male_01.jpg").read_bytes() == sideways_jpeg((600, 400))
    with Image.open(storage.root / "references/male_01-thumb.webp") as thumb:
        assert thumb.format == "WEBP"
        assert thumb.size == (213, 320)  # turned upright (400 x 600), then scaled into 320 x 320
    with Image.open(storage.root / "references/female_01-thumb.webp") as thumb:
        assert thumb.size == (256, 320)
    fetched = len(cdn.requests)
    assert fetched == 3

    again = run_cache(app)
    assert again.exit_code == 0, again.output
    assert "3 models: 0 cached now, 3 already cached, 0 failed." in again.output
    assert len(cdn.requests) == fetched  # nothing downloaded twice

    forced = run_cache(app, "--force")
    assert forced.exit_code == 0 and "3 cached now" in forced.output
    assert len(cdn.requests) == fetched + 3


def test_failing_photos_give_a_non_zero_exit_naming_each_and_a_rerun_retries_only_them(cache_app, cdn):
    app = cache_app(
        {"male_01": "/male_01.jpg", "male_02": "/error-page.jpg", "male_03": "/bomb.png"},
        {"female_01": "/forbidden.jpg"},
    )
    result = run_cache(app)
    assert result.exit_code == 1
    assert "4 models: 1 cached now, 0 already cached, 3 failed." in result.output
    assert "3 of 4 photos could not be cached (" in result.output
    assert "male_02: failed (refused: not an image: looks like text/html" in result.output
    assert "male_03: failed (refused: decompression bomb" in result.output
    assert "female_01: failed (refused: HTTP 403)" in result.output
    assert "male_01: cached (jpeg 600x400" in result.output
    assert "run `flask --app wsgi models cache` again" in result.output
    storage = services_of(app).storage
    assert photo_key(storage, "male_01") == "references/male_01.jpg"
    for model_id in ("male_02", "male_03", "female_01"):
        assert photo_key(storage, model_id) is None
        assert not storage.exists(f"references/{model_id}-thumb.webp")

    cdn.reset()
    again = run_cache(app)
    assert again.exit_code == 1 and "1 already cached" in again.output
    assert sorted(cdn.paths()) == ["/bomb.png", "/error-page.jpg", "/forbidden.jpg"]


def test_a_transient_failure_is_tried_again_then_reported(cache_app, cdn, monkeypatch):
    monkeypatch.setattr("app.pool.reference_photos.time.sleep", lambda seconds: None)
    app = cache_app({"male_01": "/missing.jpg"}, {})  # the server answers 404: "not there yet", retried
    result = run_cache(app)
    assert result.exit_code == 1
    assert "male_01: failed (HTTP 404 (tried 3 times))" in result.output
    assert "1 of 1 photos could not be cached (male_01;" in result.output
    assert cdn.paths() == ["/missing.jpg"] * 3


def test_an_invalid_registry_is_a_clear_error(make_app, tmp_path):
    bad = tmp_path / "models.json"  # a broken file refuses the start: this one breaks while the app runs
    bad.write_text((PROJECT_ROOT / "models.json").read_text())
    app = make_app(MODELS_FILE=str(bad))
    bad.write_text('{"male": [{"id": "m1", "gender": "male", "s3Url": "http://plain.test/x.jpg"}], "female": []}')
    result = run_cache(app)
    assert result.exit_code == 1 and "it must be an https:// URL" in result.output


@pytest.mark.fast
def test_thumbnails_refuse_images_over_the_pixel_limit(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(image_bytes("PNG", (400, 300)))
    with pytest.raises(Exception, match="over the 100000 pixel limit"):
        thumbnail_bytes(path, max_pixels=100_000)
    assert Image.open(io.BytesIO(thumbnail_bytes(path, max_pixels=200_000))).size == (THUMB_BOX[0], 240)
