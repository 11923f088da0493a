"""Gallery versions (app/gallery_versions.py) and the kept gallery section (app/web/admin/kept_html.py): every way
examples change bumps the version of their preset in the same transaction, and the preset page shows each change
at once, whichever process made it, while an unchanged gallery costs no query of its own."""

from __future__ import annotations

import threading

from sqlalchemy import delete, event, insert, select, update

from app import create_app
from app.core.config import load_settings
from app.core.database import db
from app.gallery_versions import versions_columns
from app.models import GalleryExample, Job, new_id, utcnow
from app.services import services_of
from app.tasks import enqueue_job
from app.web.admin import kept_html
from app.web.admin.kept_html import EXTENSION
from tests.conftest import create_admin, create_preset, sign_in
from tests.factories import job, seed
from tests.helpers import cache_reference, tokens_in


def versions(app, preset_id: str) -> tuple[int, int]:
    """(the preset's version, the everywhere version), as the page reads them."""
    with app.app_context():
        version, everywhere = db.session.execute(select(*versions_columns(preset_id))).one()
        db.session.remove()
        return version, everywhere


def example_row(preset_id: str) -> dict:
    return dict(
        id=new_id(),
        preset_id=preset_id,
        model_id="male_05",
        gender="male",
        provider="NANO_BANANA",
        prompt="p",
        image_path=f"examples/{preset_id}/x.png",
        created_at=utcnow(),
    )


def test_every_way_examples_change_bumps_their_presets_version_once_per_commit(admin_app, admin_client):
    app = admin_app
    preset_id, other_id = (create_preset(admin_client, name=n)["id"] for n in ("Film Noir", "Golden Hour"))
    assert versions(app, preset_id) == (0, 0)

    first, second = seed(app, preset_id, ["unreviewed", "unreviewed"])  # two ORM inserts, one commit
    assert versions(app, preset_id) == (1, 0)

    with app.app_context():
        db.session.get(GalleryExample, first).state = "approved"  # the ORM's update
        db.session.commit()
        db.session.commit()  # a commit that changed nothing bumps nothing
    assert versions(app, preset_id) == (2, 0)

    with app.app_context():  # a bulk UPDATE that names its preset
        db.session.execute(
            update(GalleryExample).execution_options(gallery_of=(preset_id,)), [{"id": second, "position": 0}]
        )
        db.session.commit()
    assert versions(app, preset_id) == (3, 0)

    with app.app_context():  # one that does not: every gallery's version
        db.session.execute(update(GalleryExample).where(GalleryExample.id == second).values(prompt="q"))
        db.session.commit()
    assert versions(app, preset_id) == (3, 1)

    with app.app_context():  # a bulk INSERT names its presets in its rows
        db.session.execute(insert(GalleryExample), [example_row(other_id)])
        db.session.commit()
    assert versions(app, other_id) == (1, 1) and versions(app, preset_id) == (3, 1)

    with app.app_context():  # a rolled-back change bumps nothing
        db.session.get(GalleryExample, first).state = "rejected"
        db.session.flush()
        db.session.rollback()
    assert versions(app, preset_id) == (3, 1)

    with app.app_context():
        db.session.delete(db.session.get(GalleryExample, first))
        db.session.commit()
    assert versions(app, preset_id) == (4, 1)

    job_id = job(app, preset_id)  # a job alone changes no gallery …
    assert versions(app, preset_id) == (4, 1)
    with app.app_context():  # … its deletion does: its examples now say "job pruned"
        db.session.delete(db.session.get(Job, job_id))
        db.session.commit()
    assert versions(app, preset_id) == (5, 1)
    job_id = job(app, preset_id)
    with app.app_context():
        db.session.execute(delete(Job).where(Job.id == job_id))
        db.session.commit()
    assert versions(app, preset_id) == (5, 2)


def test_versions_work_on_sqlite_too(make_app):
    app = make_app(database="sqlite")
    client = app.test_client()
    create_admin(app)
    sign_in(client)
    preset_id = create_preset(client)["id"]
    seed(app, preset_id, ["unreviewed"])
    seed(app, preset_id, ["approved"])
    assert versions(app, preset_id) == (2, 0)
    page = client.get(f"/admin/presets/{preset_id}").get_data(as_text=True)
    assert page.count('<li class="example"') == 2


def gallery_statements(app, client, path: str) -> tuple[str, list[str]]:
    """The page and the SQL statements of one GET that read the examples."""
    seen: list[str] = []

    def grab(_conn, _cursor, statement, *_args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", grab)
    try:
        html = client.get(path).get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    return html, [s for s in seen if "FROM gallery_examples" in s]


def another_process(app):
    """The same app built again on the same database (as a consumer or another web worker is), with its own
    kept parts and connections; nothing truncated."""
    env = app.config["TEST_ENV"]
    return create_app(load_settings(env), {"TESTING": True, "TEST_ENV": env}, enqueue=enqueue_job)


def test_the_section_is_kept_until_any_process_changes_the_gallery(admin_app, admin_client):
    preset_id = create_preset(admin_client)["id"]
    first, second = seed(admin_app, preset_id, ["unreviewed", "unreviewed"])
    page = f"/admin/presets/{preset_id}"
    html, reads = gallery_statements(admin_app, admin_client, page)
    assert reads and html.count('<li class="example"') == 2
    again, reads = gallery_statements(admin_app, admin_client, page)
    assert reads == []  # kept: the counts, the page and its neighbours were not asked again
    assert again.count('<li class="example"') == 2 and 'id="gallery-count">2<' in again

    # Another process (a consumer, the CLI, another web worker) changes the gallery; this one's next page shows it.
    other = another_process(admin_app)
    with other.app_context():
        db.session.get(GalleryExample, first).state = "featured"
        db.session.commit()
        db.engine.dispose()
    html, reads = gallery_statements(admin_app, admin_client, page)
    assert reads
    assert f'data-state="featured" data-example-id="{first}"' in html
    seed(other, preset_id, ["unreviewed"])
    html, _reads = gallery_statements(admin_app, admin_client, page)
    with other.app_context():
        db.engine.dispose()
    assert html.count('<li class="example"') == 3 and 'id="gallery-count">3<' in html
    assert second in html

    # The page's own forms: a verdict given here shows on the page it goes back to.
    token = admin_client.csrf
    admin_client.post(f"{page}/examples/{second}/state", data={"csrf_token": token, "state": "rejected", "next": page})
    html = admin_client.get(page).get_data(as_text=True)
    assert second not in html and 'id="gallery-count">3<' in html  # rejected ones are shown only when asked for


def test_each_session_gets_the_kept_section_with_its_own_working_token(admin_app, admin_client):
    preset_id = create_preset(admin_client)["id"]
    (only,) = seed(admin_app, preset_id, ["unreviewed"])
    page = f"/admin/presets/{preset_id}"
    other = admin_app.test_client()
    sign_in(other)
    mine, theirs = (c.get(page).get_data(as_text=True) for c in (admin_client, other))
    store = admin_app.extensions[EXTENSION]
    assert store.hits
    section = slice(mine.index('<section class="gallery-section"'), mine.index("</section>", mine.index("bulk-form")))
    (my_token,) = tokens_in(mine[section])
    (their_token,) = tokens_in(theirs[section])
    assert my_token != their_token
    bulk = admin_client.post(
        f"{page}/examples/state", data={"csrf_token": my_token, "ids": only, "state": "approved", "next": page}
    )
    assert bulk.status_code == 303


def test_storage_is_asked_again_within_a_minute_and_at_once_after_models_cache(admin_app, admin_client, monkeypatch):
    preset_id = create_preset(admin_client)["id"]
    first, second = seed(admin_app, preset_id, ["unreviewed", "approved"])
    with admin_app.app_context():
        model_id, other_model = (db.session.get(GalleryExample, e).model_id for e in (first, second))
    page = f"/admin/presets/{preset_id}"
    clock = [kept_html.monotonic()]
    monkeypatch.setattr(kept_html, "monotonic", lambda: clock[0])
    html = admin_client.get(page).get_data(as_text=True)
    assert f"Reference not cached — {model_id}" in html and f"Reference not cached — {other_model}" in html

    # A thumbnail copied in by hand (nothing bumps a version): shown once the minute is over.
    storage = services_of(admin_app).storage
    storage.save_bytes(f"references/{model_id}.jpg", b"photo")
    storage.save_bytes(f"references/{model_id}-thumb.webp", b"thumb")
    assert f"Reference not cached — {model_id}" in admin_client.get(page).get_data(as_text=True)
    clock[0] += kept_html.SECTION_MAX_AGE
    assert f"/media/references/{model_id}-thumb.webp" in admin_client.get(page).get_data(as_text=True)

    # What `models cache` leaves behind (its thumbnails and the everywhere version): shown at once.
    assert f"Reference not cached — {other_model}" in admin_client.get(page).get_data(as_text=True)
    cache_reference(admin_app, other_model)
    assert f"/media/references/{other_model}-thumb.webp" in admin_client.get(page).get_data(as_text=True)


def test_writers_at_once_each_count_once(admin_app, admin_client):
    """Twenty transactions at once (as a job's item threads store their examples) each add an example to two
    presets, half naming them in one order and half in the other: no bump is lost (it is one atomic upsert) and
    none fails."""
    first, second = (create_preset(admin_client, name=n)["id"] for n in ("Film Noir", "Golden Hour"))
    errors: list[BaseException] = []
    start = threading.Barrier(20)

    def store(n: int) -> None:
        try:
            with admin_app.app_context():
                start.wait(timeout=30)
                presets = (first, second) if n % 2 else (second, first)
                db.session.execute(insert(GalleryExample), [example_row(p) for p in presets])
                db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=store, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert versions(admin_app, first) == (20, 0) and versions(admin_app, second) == (20, 0)
