"""Outputs as `data:` URIs and oversized answers (issue 35, acceptance 6), through the real `replicate` client and
the test server: an output inline as a `data:` URI is stored like a URL output; a 200 MB one, HTML ones (inline
under an image type or its own, or behind a URL) and a prediction JSON of 50 MB are refused with the reason on
their item, and the job goes on with the others."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from PIL import Image
from sqlalchemy import select

from app.core.database import db
from app.models import GalleryExample, JobItem, SpendEntry
from app.providers.download import DownloadRefused
from app.providers.download.downloader import SafeDownloader
from tests.conftest import create_preset, post_generate, wait_for_job

MB = 1_000_000
HTML = b"<!doctype html><html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>\n"


class Cases:
    """Gives each of the job's first predictions one case, by its reference photo, in the order they arrive."""

    def __init__(self, names: list[str]) -> None:
        self.names, self.by_photo, self.lock = names, {}, threading.Lock()

    def of(self, inp: dict) -> str:
        photo = inp["image_input"][0]
        with self.lock:
            if photo not in self.by_photo:
                taken = len(self.by_photo)
                self.by_photo[photo] = self.names[taken] if taken < len(self.names) else "plain"
            return self.by_photo[photo]


REFUSED = {
    "inline 200 MB": "over the 41943040 byte limit (MAX_PREDICTION_BYTES); counted as billed",
    "inline 28 MB": "too large: a data: URI of about 28000002 bytes is over the 26214400 byte limit",
    "inline HTML as PNG": "not an image: looks like text/html (server said image/png)",
    "inline text/html": "not an image: a data: URI of text/html (only PNG, JPEG and WebP are kept)",
    "HTML behind a URL": "not an image: looks like text/html (server said text/html; charset=utf-8)",
    "50 MB of logs": "over the 41943040 byte limit (MAX_PREDICTION_BYTES); counted as billed",
}


def test_inline_outputs_are_stored_like_urls_and_oversized_or_html_ones_are_refused(
    make_app, replicate_server, immediate_huey
):
    cases = Cases(["inline", "inline again", *REFUSED])
    server = replicate_server
    server.data_uri_when = lambda model, inp: cases.of(inp).startswith("inline")
    sizes = {"inline 200 MB": 200 * MB, "inline 28 MB": 28 * MB}
    server.output_bytes_when = lambda model, inp: sizes.get(cases.of(inp))
    bodies = {
        "inline HTML as PNG": ("image/png", HTML),
        "inline text/html": ("text/html", HTML),
        "HTML behind a URL": ("text/html; charset=utf-8", HTML),
    }
    server.output_body_when = lambda model, inp: bodies.get(cases.of(inp))
    server.logs_bytes_when = lambda model, inp: 50 * MB if cases.of(inp) == "50 MB of logs" else None
    app = make_app(replicate=server)
    client = app.test_client()
    preset = create_preset(client, settings={"output_format": "png"})

    response = post_generate(client, preset["id"])
    assert response.status_code == 202, response.get_json()
    job = wait_for_job(app, response.get_json()["jobId"], timeout=240)
    assert job.status == "partial" and (job.done, job.failed) == (14, 6), (job.done, job.failed)
    assert server.server_errors == []

    case_of = {photo: name for photo, name in cases.by_photo.items()}
    storage = app.extensions["pixelglow"].storage
    with app.app_context():
        items = db.session.scalars(select(JobItem).where(JobItem.job_id == job.id)).all()
        assert len(items) == 20
        for item in items:
            case = case_of[item.reference_url]
            if case in REFUSED:
                assert item.state == "failed" and item.example_id is None, case
                assert REFUSED[case] in (item.error or ""), (case, item.error)
                continue
            assert item.state == "succeeded", (case, item.error)
            example = db.session.get(GalleryExample, item.example_id)
            kind, _, pieces = server._output_body(server._preds[item.prediction_id], 0)
            assert kind == "image/png"
            kept = storage.read_bytes(example.image_path)
            assert kept == b"".join(pieces), case  # the bytes Replicate sent, inline or behind the URL alike
            assert example.thumb_path and example.medium_path, case  # its sizes made from it, as for a URL
    inline = [p for p, name in case_of.items() if name.startswith("inline") and name not in REFUSED]
    assert len(inline) == 2
    with app.app_context():  # every prediction succeeded at Replicate, or may have: each is billed its image
        billed = db.session.scalars(select(SpendEntry.amount).where(SpendEntry.job_id == job.id)).all()
        assert len(billed) == 20 and sum(billed) == Decimal("0.78")


@pytest.mark.fast
def test_a_data_uri_is_decoded_under_the_cap_and_verified(tmp_path):
    import base64
    import io

    image = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(image, "WEBP")
    uri = "data:image/webp;base64," + base64.b64encode(image.getvalue()).decode()
    downloader = SafeDownloader(max_bytes=len(image.getvalue()), temp_dir=tmp_path)
    with downloader.download(uri) as got:
        assert (got.format, got.width, got.height, got.size) == ("webp", 40, 30, len(image.getvalue()))
        assert got.url.startswith("data:image/webp;base64,…") and got.read_bytes() == image.getvalue()
    roomy = SafeDownloader(max_bytes=10_000, temp_dir=tmp_path)
    refusals = {
        uri: (SafeDownloader(max_bytes=len(image.getvalue()) - 1, temp_dir=tmp_path), "too large"),
        "data:image/png;base64,@@@@": (roomy, "base64 is broken"),
        "data:image/png,rawbytes": (roomy, "that is not base64"),
        "data:;base64,aGVsbG8=": (roomy, "a data: URI of text/plain"),
        "data:image/png;base64," + base64.b64encode(b"GIF89a" + bytes(600)).decode(): (roomy, "a GIF image"),
        "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(600)).decode(): (
            roomy,
            "unrecognised binary data",
        ),
        "data:image/png;base64,": (roomy, "empty data: URI"),
    }
    for bad, (loader, reason) in refusals.items():
        with pytest.raises(DownloadRefused, match=reason):
            loader.download(bad)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


@pytest.mark.fast
def test_an_answer_without_a_content_length_is_counted_as_it_streams_in():
    import httpx

    from app.providers.replicate.transport import AnswerTooLarge, CappedAnswers

    def chunked(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([b'{"output": "', b"x" * 600, b'"}']))  # no Content-Length

    def declared(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{}", headers={"Content-Length": "5000"})

    small = httpx.Client(transport=CappedAnswers(httpx.MockTransport(chunked), 1000))
    assert small.get("https://api.replicate.com/v1/predictions/x").json() == {"output": "x" * 600}
    capped = httpx.Client(transport=CappedAnswers(httpx.MockTransport(chunked), 500))
    with pytest.raises(AnswerTooLarge, match="more than that, stopped reading"):
        capped.get("https://api.replicate.com/v1/predictions/x")
    told = httpx.Client(transport=CappedAnswers(httpx.MockTransport(declared), 500))
    with pytest.raises(AnswerTooLarge, match=r"Content-Length 5000 bytes\) is over the 500 byte limit"):
        told.get("https://api.replicate.com/v1/predictions/x")


def test_the_test_server_streams_inline_outputs_and_long_logs_with_an_exact_length(replicate_server):
    """The server's side: a `data:` URI output decodes to the bytes its file URL serves, padded logs are as long as
    asked, and each streamed answer's Content-Length is the length of its body (the real client parses it)."""
    import base64

    import httpx
    import replicate

    server = replicate_server
    server.data_uri_when = lambda model, inp: inp["prompt"] == "inline"
    server.logs_bytes_when = lambda model, inp: 100_003 if inp["prompt"] == "chatty" else None
    client = replicate.Client(api_token=server.token, base_url=server.url)
    made = {
        prompt: client.models.predictions.create(
            model="google/nano-banana", input={"prompt": prompt, "image_input": ["https://example.com/a.png"]}
        ).id
        for prompt in ("inline", "chatty")
    }
    for pid in made.values():
        client.predictions.get(pid).wait()
    headers = {"Authorization": f"Bearer {server.token}"}
    inline = httpx.get(f"{server.url}/v1/predictions/{made['inline']}", headers=headers)
    assert int(inline.headers["content-length"]) == len(inline.content)
    output = inline.json()["output"]
    assert output.startswith("data:image/jpeg;base64,")
    served = b"".join(server._output_body(server._preds[made["inline"]], 0)[2])
    assert base64.b64decode(output.split(",", 1)[1]) == served and served[:3] == b"\xff\xd8\xff"
    chatty = client.predictions.get(made["chatty"])
    assert chatty.status == "succeeded" and len(chatty.logs or "") == 100_003
    page = httpx.get(f"{server.url}/v1/predictions", headers=headers)
    assert int(page.headers["content-length"]) == len(page.content) and len(page.json()["results"]) == 2
    assert server.server_errors == []
