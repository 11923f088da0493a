"""Outputs are never trusted: a bad output fails its own model with the reason, never the job."""

from __future__ import annotations

from PIL import Image
from sqlalchemy import select

from app.core.database import db
from app.jobs.submit import request_generation
from app.models import GalleryExample, Job, JobItem
from tests.conftest import create_preset, post_generate

HUNDRED_MB = 100 * 1024 * 1024


def evil_outputs(server, admin_url: str) -> dict[str, str]:
    """Five bad output URLs, by reference model: the server hands them out instead of real files."""
    return {
        "male_01": f"{server.url}/files/evil/redirect",  # 302 to the admin itself on 127.0.0.1
        "male_02": "file:///etc/passwd",
        "male_03": "http://[::1/x",
        "male_04": f"{server.url}/files/evil/big",  # 100 MB, streamed with no Content-Length
        "male_05": f"{server.url}/files/evil/page",  # an HTML page
    }


def serve_evil(server, admin_url: str, sent: dict) -> None:
    original_download = server._download

    def download(h, path, head):
        if path == "/files/evil/redirect":
            return h.reply_bytes(302, b"", "text/plain", headers={"Location": f"{admin_url}/admin/presets"})
        if path == "/files/evil/page":
            return h.reply_bytes(200, b"<!doctype html><html><body>sign in</body></html>", "image/png")
        if path == "/files/evil/big":
            h.send_response(200)
            h.send_header("Content-Type", "image/png")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            chunk = b"\x89PNG\r\n\x1a\n" + b"\0" * (1024 * 1024 - 8)
            try:
                for _ in range(HUNDRED_MB // len(chunk)):
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent["big"] = sent.get("big", 0) + len(chunk)
                h.wfile.write(b"0\r\n\r\n")
            except OSError:  # the downloader hung up at its cap
                h.close_connection = True
            return None
        return original_download(h, path, head)

    server._download = download


def test_bad_outputs_fail_only_their_model_and_nothing_but_images_is_stored(make_app, immediate_huey, replicate_server):
    app = make_app(replicate=replicate_server, MAX_OUTPUT_BYTES=str(25 * 1024 * 1024))
    admin_url = "http://127.0.0.1:5000"
    bad = evil_outputs(replicate_server, admin_url)
    sent: dict[str, int] = {}
    serve_evil(replicate_server, admin_url, sent)
    original_urls = replicate_server._output_urls

    def output_urls(rec):
        reference = rec.input.get("image_input", [""])[0]
        for model_id, url in bad.items():
            if f"/{model_id}_" in reference:
                return [url]
        return original_urls(rec)

    replicate_server._output_urls = output_urls
    preset = create_preset(app.test_client())
    services = app.extensions["pixelglow"]
    with app.app_context():  # the five bad models and five good ones, chosen by hand
        registry = services.registry()
        models = [registry.get(m) for m in bad] + [registry.get(f"female_0{n}") for n in range(1, 6)]
        job_id = request_generation(services, preset["id"], 1, model_ids=[m.id for m in models]).job.id
    replicate_server._output_urls = original_urls
    next_job = post_generate(app.test_client(), preset["id"])  # the queue goes on with the next job
    assert next_job.status_code == 202
    with app.app_context():
        failed = {
            i.model_id: i.error
            for i in db.session.scalars(select(JobItem).where(JobItem.state == "failed"))
            if i.model_id in bad
        }
        assert db.session.get(Job, job_id).status == "partial"
        assert db.session.get(Job, next_job.get_json()["jobId"]).status == "succeeded"
        assert set(failed) == set(bad), failed
        assert "not a public address" in failed["male_01"] or "127.0.0.1" in failed["male_01"], failed["male_01"]
        assert "file" in failed["male_02"]
        assert "URL" in failed["male_03"] or "url" in failed["male_03"]
        assert "too large" in failed["male_04"] or "25" in failed["male_04"], failed["male_04"]
        assert "not an image" in failed["male_05"]
        for error in failed.values():
            assert error.startswith("the output was refused: ")
        storage = app.extensions["pixelglow"].storage
        examples = db.session.scalars(select(GalleryExample)).all()
        assert examples and not any(e.model_id in bad for e in examples if e.job_id == job_id)
        for example in examples:  # everything stored is an image
            with Image.open(storage.path_for(example.image_path)) as image:
                image.verify()
        stored = list(storage.root.rglob("*"))
        assert not [p for p in stored if p.is_file() and p.suffix not in (".png", ".jpg", ".webp")]
    assert sent["big"] < 40 * 1024 * 1024  # reading stopped at the cap, not after 100 MB
    leftovers = list((app.extensions["pixelglow"].settings.instance_path / "downloads").iterdir())
    assert leftovers == []
