"""Each stored example's thumbnail and medium size: made from the output (upright, bombs refused, two at once at
most), recorded on its row, shown by the grids and the side-by-side view, returned by the API; a failed resize
keeps the example; `flask media thumbnails` backfills older examples and a second run does nothing."""

from __future__ import annotations

import io
import logging
import threading
import time

import pytest
from PIL import Image
from sqlalchemy import update

from app.core.database import db
from app.models import GalleryExample
from app.storage import sizes
from app.storage.base import size_key
from app.storage.local import MediaStorage
from app.storage.sizes import MEDIUM, THUMB, SizingError, resized_webps, store_sizes
from tests.conftest import auth_headers, create_preset, csrf_token_of, post_generate
from tests.photos import ORIENTATION, photo_bytes, sideways_jpeg

SIZE_COLUMNS = dict.fromkeys(
    ("thumb_path", "thumb_width", "thumb_height", "medium_path", "medium_width", "medium_height")
)


# -- making the sizes -------------------------------------------------------------------------------------
@pytest.mark.fast
def test_sizes_of_a_photo_are_webps_of_320_and_1024_next_to_the_original(tmp_path):
    storage = MediaStorage(tmp_path)
    key = "examples/p1/j1/male_01-0.png"
    original = photo_bytes(1, (2048, 1536))
    storage.save_bytes(key, original)
    made = store_sizes(storage, key, io.BytesIO(original))
    assert made.thumb_key == "examples/p1/j1/male_01-0-thumb.webp" == size_key(key, "thumb")
    assert made.medium_key == "examples/p1/j1/male_01-0-medium.webp"
    assert (made.thumb_width, made.thumb_height, made.medium_width, made.medium_height) == (320, 240, 1024, 768)
    for stored_key, size in ((made.thumb_key, (320, 240)), (made.medium_key, (1024, 768))):
        with Image.open(storage.path_for(stored_key)) as image:
            assert image.format == "WEBP" and image.size == size
    assert storage.read_bytes(key) == original, "the original stays as it was"
    assert storage.path_for(made.thumb_key).stat().st_size < 40_000


@pytest.mark.fast
def test_sizes_are_upright_by_exif_and_a_small_image_is_not_enlarged():
    medium, thumb = resized_webps(io.BytesIO(sideways_jpeg()), (THUMB, MEDIUM))  # largest first, whatever the order
    assert (medium.width, medium.height, thumb.width, thumb.height) == (768, 1024, 240, 320)
    with Image.open(io.BytesIO(thumb.data)) as image:
        assert image.size == (240, 320) and ORIENTATION not in image.getexif()
    small = io.BytesIO()
    Image.new("RGBA", (200, 100), (0, 0, 0, 0)).save(small, "PNG")
    medium, thumb = resized_webps(small, (MEDIUM, THUMB))
    assert (medium.width, medium.height, thumb.width, thumb.height) == (200, 100, 200, 100)
    with Image.open(io.BytesIO(thumb.data)) as image:
        assert image.mode == "RGBA", "transparency is kept"


@pytest.mark.fast
def test_decompression_bombs_and_broken_or_foreign_files_are_refused():
    bomb = io.BytesIO()
    Image.new("L", (5000, 5000)).save(bomb, "PNG")  # 25 MP: tiny as a file, 25 MB decoded
    with pytest.raises(SizingError, match="25000000 pixels|5000x5000 pixels is over the 1000000 pixel limit"):
        resized_webps(io.BytesIO(bomb.getvalue()), (MEDIUM, THUMB), max_pixels=1_000_000)
    truncated = photo_bytes(2, (400, 400), "JPEG")[:3000]
    with pytest.raises(SizingError):
        resized_webps(io.BytesIO(truncated), (MEDIUM, THUMB))
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    with pytest.raises(SizingError, match="cannot identify"):
        resized_webps(io.BytesIO(gif.getvalue()), (MEDIUM, THUMB))


@pytest.mark.fast
def test_at_most_two_resizes_run_at_once_on_the_image_threads(monkeypatch):
    """Whoever asks (here 8 threads at once), resizes run two at a time on the process's image threads."""
    running, most, lock, threads_used = [0], [0], threading.Lock(), set()
    real = sizes._resize

    def counted(*args):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            threads_used.add(threading.current_thread().name)
        time.sleep(0.05)
        try:
            return real(*args)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(sizes, "_resize", counted)
    source = photo_bytes(3, (300, 300))
    threads = [threading.Thread(target=resized_webps, args=(io.BytesIO(source), (THUMB,))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == sizes.MAX_PARALLEL_RESIZES == 2
    assert len(threads_used) <= 2 and all(name.startswith("image") for name in threads_used), threads_used


# -- the pipeline, the API and the pages -------------------------------------------------------------------
@pytest.mark.parametrize("database, queue", [("postgres", "redis"), ("sqlite", "embedded")])
def test_every_stored_example_has_both_sizes_in_its_row_the_api_and_storage(make_app, immediate_huey, database, queue):
    app = make_app(database=database, queue=queue)
    client = app.test_client()
    preset = create_preset(client)
    assert post_generate(client, preset["id"]).status_code == 202
    items = client.get(f"/api/admin/presets/{preset['id']}/gallery", headers=auth_headers()).get_json()["items"]
    assert len(items) == 20
    storage = app.extensions["pixelglow"].storage
    for item in items:
        assert item["thumbUrl"].endswith("-thumb.webp") and item["mediumUrl"].endswith("-medium.webp")
        assert (item["thumbWidth"], item["thumbHeight"]) == (256, 320)  # the 512 x 640 placeholder
        assert (item["mediumWidth"], item["mediumHeight"]) == (512, 640), "never enlarged"
        assert item["imageUrl"].endswith(".png")
        thumb = client.get(item["thumbUrl"], headers=auth_headers())
        assert thumb.status_code == 200 and thumb.mimetype == "image/webp"
    with app.app_context():
        rows = db.session.query(GalleryExample).all()
        assert all(storage.exists(r.thumb_path) and storage.exists(r.medium_path) for r in rows)


def test_replicate_outputs_get_their_sizes_too(make_app, immediate_huey, replicate_server):
    app = make_app(replicate=replicate_server)
    client = app.test_client()
    preset = create_preset(client)
    assert post_generate(client, preset["id"]).status_code == 202
    items = client.get(f"/api/admin/presets/{preset['id']}/gallery", headers=auth_headers()).get_json()["items"]
    assert len(items) == 20 and all(i["thumbUrl"] and i["mediumUrl"] for i in items)
    assert {(i["thumbWidth"], i["mediumWidth"]) for i in items} == {(192, 192)}  # the test server's 192 px images


def test_a_failed_resize_keeps_the_example_says_so_and_the_pages_show_the_original(
    make_app, immediate_huey, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise SizingError("simulated: Pillow could not decode it")

    monkeypatch.setattr("app.providers.outputs.store_sizes", broken)
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    with caplog.at_level(logging.WARNING, logger="app.providers.outputs"):
        job = post_generate(client, preset["id"]).get_json()
    assert client.get(f"/api/admin/jobs/{job['jobId']}", headers=auth_headers()).get_json()["done"] == 20
    items = client.get(f"/api/admin/presets/{preset['id']}/gallery", headers=auth_headers()).get_json()["items"]
    assert len(items) == 20 and all(i["thumbUrl"] is None and i["mediumUrl"] is None for i in items)
    warnings = [r.getMessage() for r in caplog.records if "stored without its sizes" in r.getMessage()]
    assert len(warnings) == 20 and "simulated: Pillow could not decode it" in warnings[0]
    assert "media thumbnails" in warnings[0]


def test_cards_load_thumbnails_with_srcset_and_fall_back_to_the_original(admin_app, admin_client, immediate_huey):
    preset = create_preset(admin_client)
    post_generate(admin_client, preset["id"])
    with admin_app.app_context():
        older = db.session.query(GalleryExample).order_by(GalleryExample.id).first()
        db.session.execute(update(GalleryExample).where(GalleryExample.id == older.id).values(**SIZE_COLUMNS))
        db.session.commit()
        older_id, older_path = older.id, older.image_path
        sized = db.session.query(GalleryExample).filter(GalleryExample.thumb_path.is_not(None)).first()
        thumb, medium, sized_id, sized_path = sized.thumb_path, sized.medium_path, sized.id, sized.image_path
    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert (f'src="/media/{thumb}" srcset="/media/{medium} 2x" width="256" height="320"') in page
    assert f'<img class="output" src="/media/{older_path}"' in page, "no sizes yet: the original"
    assert page.count('class="output" src="/media/') == 20
    assert page.count("-medium.webp 2x") == 19
    view = admin_client.get(f"/admin/presets/{preset['id']}/examples/{sized_id}").get_data(as_text=True)
    assert f'<img class="output" src="/media/{medium}"' in view and 'width="512" height="640"' in view
    assert f'href="/media/{sized_path}" download data-field="original">download the original</a>' in view
    view = admin_client.get(f"/admin/presets/{preset['id']}/examples/{older_id}").get_data(as_text=True)
    assert f'<img class="output" src="/media/{older_path}"' in view


def test_deleting_an_example_deletes_its_sizes(admin_app, admin_client, immediate_huey):
    preset = create_preset(admin_client)
    post_generate(admin_client, preset["id"])
    storage = admin_app.extensions["pixelglow"].storage
    with admin_app.app_context():
        example = db.session.query(GalleryExample).first()
        keys = (example.image_path, example.thumb_path, example.medium_path)
        example_id = example.id
    assert all(storage.exists(k) for k in keys)
    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    answer = admin_client.post(
        f"/admin/presets/{preset['id']}/examples/{example_id}/delete", data={"csrf_token": csrf_token_of(page)}
    )
    assert answer.status_code == 303
    assert not any(storage.exists(k) for k in keys)


# -- the backfill -----------------------------------------------------------------------------------------
def strip_sizes(app, count: int | None = None) -> list[str]:
    """Make examples look stored before sizes existed: no size columns, no size files. Returns their ids."""
    storage = app.extensions["pixelglow"].storage
    with app.app_context():
        rows = db.session.query(GalleryExample).order_by(GalleryExample.id).all()[:count]
        for row in rows:
            storage.delete(row.thumb_path)
            storage.delete(row.medium_path)
        ids = [r.id for r in rows]
        db.session.execute(update(GalleryExample).where(GalleryExample.id.in_(ids)).values(**SIZE_COLUMNS))
        db.session.commit()
        return ids


def run_backfill(app):
    return app.test_cli_runner().invoke(args=["media", "thumbnails"])


def test_backfill_makes_the_sizes_of_every_older_example_and_a_second_run_does_nothing(make_app, immediate_huey):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    post_generate(client, preset["id"])
    stripped = strip_sizes(app)
    assert len(stripped) == 20
    first = run_backfill(app)
    assert first.exit_code == 0, first.output
    assert "Sizing 20 examples" in first.output  # the bar itself is drawn on a terminal only
    assert "20 examples without sizes: 20 made, 0 failed." in first.output
    storage = app.extensions["pixelglow"].storage
    with app.app_context():
        rows = db.session.query(GalleryExample).all()
        assert all(r.thumb_path == size_key(r.image_path, "thumb") and storage.exists(r.thumb_path) for r in rows)
        assert all(r.medium_path and storage.exists(r.medium_path) for r in rows)
        assert {(r.thumb_width, r.thumb_height, r.medium_width, r.medium_height) for r in rows} == {
            (256, 320, 512, 640)
        }
        mtimes = {r.id: storage.path_for(r.thumb_path).stat().st_mtime_ns for r in rows}
    second = run_backfill(app)
    assert second.exit_code == 0 and "nothing to do" in second.output
    with app.app_context():
        rows = db.session.query(GalleryExample).all()
        assert {r.id: storage.path_for(r.thumb_path).stat().st_mtime_ns for r in rows} == mtimes, "nothing rewritten"


def test_backfill_names_what_failed_exits_1_and_a_rerun_retries_only_those(make_app, immediate_huey):
    app = make_app(database="sqlite", queue="embedded")
    client = app.test_client()
    preset = create_preset(client)
    post_generate(client, preset["id"])
    storage = app.extensions["pixelglow"].storage
    missing, broken, *others = strip_sizes(app, 5)
    with app.app_context():
        missing_path = db.session.get(GalleryExample, missing).image_path
        broken_path = db.session.get(GalleryExample, broken).image_path
    storage.delete(missing_path)
    storage.save_bytes(broken_path, b"\x89PNG\r\n\x1a\n not really a PNG")
    result = run_backfill(app)
    assert result.exit_code == 1
    assert "5 examples without sizes: 3 made, 2 failed." in result.output
    assert f"example {missing} ({missing_path}): the original is missing from storage" in result.output
    assert f"example {broken} ({broken_path}): no sizes:" in result.output
    assert "2 example(s) still have no sizes" in result.output
    with app.app_context():
        assert all(db.session.get(GalleryExample, i).thumb_path for i in others)
    again = run_backfill(app)
    assert again.exit_code == 1 and "2 examples without sizes: 0 made, 2 failed." in again.output
