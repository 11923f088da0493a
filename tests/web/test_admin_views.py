"""The admin's views with Flask's test client: one endpoint for three callers, the progress fragment,
the gallery's paging, the worker notice, presets, usage, examples, and the users commands."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import func, select

from app.core.database import db
from app.models import GalleryExample, Job, JobItem, Preset, PresetModelUsage, utcnow
from tests.conftest import ADMIN_EMAIL, auth_headers, create_preset, post_generate, sign_in
from tests.factories import examples, job, mark_used, seed
from tests.helpers import count_queries, htmx


def generate_url(preset_id: str) -> str:
    """The JSON API's endpoint (Bearer callers and JSON bodies)."""
    return f"/api/admin/presets/{preset_id}/generate-examples"


def form_url(preset_id: str) -> str:
    """The admin's own route for the generate form."""
    return f"/admin/presets/{preset_id}/generate"


# -- one endpoint, three callers ---------------------------------------------------------------------
def test_bearer_caller_gets_the_json_answer_unchanged(admin_app, immediate_huey):
    client = admin_app.test_client()
    preset = create_preset(client)
    response = client.post(
        generate_url(preset["id"]), json={"examplesPerModel": 1}, headers=auth_headers(**{"HX-Request": "true"})
    )
    assert response.status_code == 202 and response.mimetype == "application/json"
    body = json.loads(response.get_data())
    assert sorted(body) == sorted(["success", "jobId", "message", "presetId", "examplesPerModel", "offline", "models"])
    assert body["models"] == {"male": 10, "female": 10}
    assert response.get_data() == admin_app.json.response(body).get_data()


def test_a_form_post_to_the_api_endpoint_is_sent_on_to_the_admin_route(admin_client):
    """Old pages posting the form to the API's address keep working: 307 keeps the method and the body."""
    preset = create_preset(admin_client)
    response = admin_client.post(
        generate_url(preset["id"]), data={"examples_per_model": "1"}, headers=htmx(admin_client)
    )
    assert response.status_code == 307
    assert response.headers["Location"].endswith(form_url(preset["id"]))
    followed = admin_client.post(
        generate_url(preset["id"]), data={"examples_per_model": "1"}, headers=htmx(admin_client), follow_redirects=True
    )
    assert followed.status_code == 200 and 'id="progress"' in followed.get_data(as_text=True)


def test_htmx_caller_gets_the_progress_fragment(admin_client):
    preset = create_preset(admin_client)
    response = admin_client.post(form_url(preset["id"]), data={"examples_per_model": "2"}, headers=htmx(admin_client))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="progress"' in html and 'hx-trigger="every 1s"' in html and 'hx-swap="outerHTML"' in html
    assert 'data-status="queued"' in html
    assert 'id="pool" class="panel pool" data-models-next="0" hx-swap-oob="true"' not in html
    assert html.count('class="cell reserved') == 20  # the pool picture shows the reservation at once
    with admin_client.application.app_context():
        job = db.session.scalars(select(Job)).one()
        assert job.examples_per_model == 2 and job.total == 40


def test_plain_form_caller_is_sent_to_the_job_page(admin_client):
    preset = create_preset(admin_client)
    response = admin_client.post(
        form_url(preset["id"]), data={"examples_per_model": "1", "csrf_token": admin_client.csrf}
    )
    assert response.status_code == 303
    assert re.fullmatch(r"/admin/jobs/[0-9a-f]{32}", response.headers["Location"])
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Example generation job queued" in page


def test_htmx_validation_errors_come_back_as_a_200_fragment(admin_client):
    preset = create_preset(admin_client)
    for value, text in (("9", "between 1 and 4"), ("two", "whole number")):
        response = admin_client.post(
            form_url(preset["id"]), data={"examples_per_model": value}, headers=htmx(admin_client)
        )
        assert response.status_code == 200
        assert response.headers["HX-Retarget"] == "#generate-feedback"
        assert text in response.get_data(as_text=True) and 'class="alert error' in response.get_data(as_text=True)
    response = admin_client.post(form_url("missing"), data={"examples_per_model": "1"}, headers=htmx(admin_client))
    assert response.status_code == 200 and "No preset with id" in response.get_data(as_text=True)
    with admin_client.application.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 0


def test_plain_form_errors_are_flashed_on_the_preset_page(admin_client):
    preset = create_preset(admin_client)
    response = admin_client.post(
        form_url(preset["id"]), data={"examples_per_model": "0", "csrf_token": admin_client.csrf}, follow_redirects=True
    )
    assert response.status_code == 200 and "between 1 and 4" in response.get_data(as_text=True)


def test_no_models_left_is_explained_in_the_fragment(admin_client):
    preset = create_preset(admin_client)
    registry = admin_client.application.extensions["pixelglow"].registry()
    mark_used(admin_client.application, preset["id"], [m.id for m in registry.all])
    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert "Every reference model has been used" in page
    response = admin_client.post(form_url(preset["id"]), data={"examples_per_model": "1"}, headers=htmx(admin_client))
    assert response.status_code == 200 and "already been used" in response.get_data(as_text=True)


# -- the progress fragment -------------------------------------------------------------------------------
def progress_record(job_id: str, preset_id: str, status: str, examples: int, **extra) -> dict:
    return {
        "jobId": job_id,
        "presetId": preset_id,
        "status": status,
        "percent": 100 if status != "running" else 50,
        "stage": "generating",
        "message": f"{examples} of 20 examples stored",
        "done": examples,
        "failed": extra.get("failed", 0),
        "total": 20,
        "offline": False,
        "examplesPerModel": 1,
        "items": extra.get("items", []),
        "examples": [
            {
                "id": f"ex{i}",
                "modelId": f"male_{i:02d}",
                "gender": "male",
                "index": 0,
                "imageUrl": f"/media/examples/{preset_id}/{job_id}/male_{i:02d}-0.jpg",
                "offline": False,
                "createdAt": "2026-11-24T05:00:00Z",
            }
            for i in range(examples)
        ],
        "createdAt": "2026-11-24T05:00:00Z",
        "finishedAt": None,
        "updatedAt": utcnow().isoformat() + "Z",
    }


def test_the_fragment_reads_the_progress_store_and_only_the_gallery_counts_while_the_job_runs(admin_client):
    app = admin_client.application
    progress = app.extensions["pixelglow"].progress
    progress.write("job1", progress_record("job1", "preset1", "running", 5))
    bearer = app.test_client()
    with count_queries(app) as statements:
        response = bearer.get("/admin/jobs/job1/progress?shown=2&provider=NANO_BANANA", headers=auth_headers())
    assert response.status_code == 200
    # a poll that brings examples reads the gallery's counts (one grouped count), nothing about the job
    assert len(statements) == 1 and "count(*)" in statements[0] and "jobs" not in statements[0], statements
    html = response.get_data(as_text=True)
    assert html.count('hx-swap-oob="afterend:#gallery-new"') == 3  # examples 3, 4 and 5: the first two were shown
    assert 'id="example-ex0"' not in html and 'id="example-ex4"' in html
    assert "shown=5" in html and 'hx-trigger="every 1s"' in html
    with count_queries(app) as statements:
        response = admin_client.get("/admin/jobs/job1/progress?shown=5", headers=htmx(admin_client))
    assert response.status_code == 200 and "#gallery-new" not in response.get_data(as_text=True)
    assert len(statements) == 1 and "users" in statements[0]  # who is signed in; nothing about jobs or the gallery


def test_the_job_json_reads_only_the_progress_store_while_the_job_runs(admin_client):
    app = admin_client.application
    app.extensions["pixelglow"].progress.write("job2", progress_record("job2", "preset1", "running", 7))
    with count_queries(app) as statements:
        response = app.test_client().get("/api/admin/jobs/job2", headers=auth_headers())
    assert response.status_code == 200 and response.get_json()["done"] == 7
    assert statements == [], statements


def test_the_fragment_stops_polling_with_286_and_lists_failures_when_the_job_ends(admin_client):
    app = admin_client.application
    preset = create_preset(admin_client)
    items = [
        {
            "modelId": "female_03",
            "gender": "female",
            "index": 0,
            "state": "failed",
            "predictionId": "p1",
            "error": "NSFW content detected",
        }
    ]
    record = progress_record("job2", preset["id"], "partial", 19, failed=1, items=items)
    app.extensions["pixelglow"].progress.write("job2", record, finished=True)
    response = admin_client.get("/admin/jobs/job2/progress?shown=19", headers=htmx(admin_client))
    assert response.status_code == 286
    html = response.get_data(as_text=True)
    assert "hx-trigger" not in html.split("</section>")[0]
    assert "female_03" in html and "NSFW content detected" in html
    assert 'id="pool"' in html and 'hx-swap-oob="true"' in html  # the pool picture refreshed once at the end
    assert "HX-Refresh" not in response.headers
    job_view = admin_client.get("/admin/jobs/job2/progress?view=job", headers=htmx(admin_client))
    assert job_view.status_code == 286 and job_view.headers["HX-Refresh"] == "true"  # the job page reloads its table
    assert "NSFW content detected" in job_view.get_data(as_text=True)


def queue_by_form(admin_client) -> tuple[dict, str]:
    """A new preset and the id of the job its page's generate form queued (one example a model, no consumer)."""
    preset = create_preset(admin_client)
    admin_client.post(form_url(preset["id"]), data={"examples_per_model": "1"}, headers=htmx(admin_client))
    with admin_client.application.app_context():
        return preset, db.session.scalars(select(Job.id)).one()


def test_a_queued_job_reads_as_queued_and_a_missing_one_as_gone_never_as_done(admin_client):
    _preset, job_id = queue_by_form(admin_client)
    queued = admin_client.get(f"/admin/jobs/{job_id}/progress", headers=htmx(admin_client))
    assert queued.status_code == 200 and 'value="0"' in queued.get_data(as_text=True)
    gone = admin_client.get("/admin/jobs/nope/progress", headers=htmx(admin_client))
    assert gone.status_code == 286 and "no longer exists" in gone.get_data(as_text=True)
    assert 'value="100"' not in gone.get_data(as_text=True)


def test_reloading_the_preset_page_mid_job_shows_the_live_fragment_without_duplicates(admin_client):
    app = admin_client.application
    preset, job_id = queue_by_form(admin_client)
    with app.app_context():
        db.session.get(Job, job_id).status = "running"
        db.session.commit()
    # 3 examples are stored: the record lists 2, the third landed after the record was written
    models = [f"male_{i:02d}" for i in range(3)]
    examples(app, preset["id"], models, job_id=job_id, each=lambda n, _: {"id": f"ex{n}"}, image_path="examples/x.jpg")
    app.extensions["pixelglow"].progress.write(job_id, progress_record(job_id, preset["id"], "running", 2))
    html = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in html and "shown=2" in html
    assert html.count('class="example"') == 2  # the third comes with the next poll, once
    poll = admin_client.get(f"/admin/jobs/{job_id}/progress?shown=2", headers=htmx(admin_client))
    assert "#gallery-new" not in poll.get_data(as_text=True)  # the record has not caught up yet: nothing twice


# -- gallery paging ---------------------------------------------------------------------------------------
def add_examples(app, preset_id: str, n: int) -> None:
    """`n` examples of the 72 models in turn, one second apart, the first the newest."""
    models = [f"male_{i % 36 + 1:02d}" for i in range(n)]

    def numbered(i: int, _model: str) -> dict:
        return {"example_index": i, "image_path": f"examples/{preset_id}/x/{i}.jpg"}

    examples(app, preset_id, models, each=numbered)


def test_a_preset_with_1000_examples_renders_with_as_many_queries_as_one_with_20(admin_client):
    app = admin_client.application
    small, large = create_preset(admin_client, name="Small"), create_preset(admin_client, name="Large")
    add_examples(app, small["id"], 20)
    add_examples(app, large["id"], 1000)
    with count_queries(app) as q_small:
        page_small = admin_client.get(f"/admin/presets/{small['id']}").get_data(as_text=True)
    with count_queries(app) as q_large:
        page_large = admin_client.get(f"/admin/presets/{large['id']}").get_data(as_text=True)
    assert len(q_small) == len(q_large) <= 8
    assert page_small.count('class="example"') == 20 and 'rel="next"' not in page_small
    assert page_large.count('class="example"') == 50 and 'rel="next"' in page_large
    assert 'loading="lazy"' in page_large
    # walk the pages as htmx does (the gallery section alone): every example exactly once, newest first
    seen = re.findall(r'id="example-([0-9a-f]{32})"', page_large)
    section = htmx(admin_client, **{"HX-Target": "gallery-section"})
    url = re.search(r'rel="next" href="([^"#]+)', page_large).group(1).replace("&amp;", "&")
    while url:
        with count_queries(app) as q_page:
            html = admin_client.get(url, headers=section).get_data(as_text=True)
        assert len(q_page) <= 8 and "<html" not in html
        seen += re.findall(r'id="example-([0-9a-f]{32})"', html)
        more = re.search(r'rel="next" href="([^"#]+)', html)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert len(seen) == len(set(seen)) == 1000
    with app.app_context():
        newest_first = select(GalleryExample.id).where(GalleryExample.preset_id == large["id"])
        assert seen == list(db.session.scalars(newest_first.order_by(GalleryExample.created_at.desc())))


# -- worker liveness ----------------------------------------------------------------------------------------
def test_a_job_queued_with_no_consumer_alive_shows_the_no_worker_notice(admin_client, redis_client):
    app = admin_client.application
    preset, job_id = queue_by_form(admin_client)
    pages = (f"/admin/presets/{preset['id']}", "/admin/jobs", f"/admin/jobs/{job_id}/progress", f"/admin/jobs/{job_id}")
    for path in pages:  # just queued: give a worker a few seconds before saying anything
        assert "No worker is running" not in admin_client.get(path).get_data(as_text=True), path
    with app.app_context():
        db.session.get(Job, job_id).created_at = utcnow() - timedelta(seconds=30)
        db.session.commit()
    for path in pages:
        html = admin_client.get(path).get_data(as_text=True)
        assert "No worker is running" in html and "huey_consumer app.tasks.huey" in html, path
    app.extensions["pixelglow"].progress.beat("worker-1", ttl=15)
    for path in pages:
        assert "No worker is running" not in admin_client.get(path).get_data(as_text=True), path


# -- presets, usage, examples -------------------------------------------------------------------------------
def test_create_edit_search_and_delete_a_preset_in_forms(admin_client):
    c = admin_client
    response = c.post(
        "/admin/presets/new",
        data={
            "csrf_token": c.csrf,
            "name": "Film Noir",
            "prompt": "Black and white portrait",
            "provider": "FLUX_PRO",
            "setting-FLUX_PRO-aspect_ratio": "3:4",
            "setting-FLUX_PRO-prompt_upsampling": "true",
            "setting-FLUX_PRO-seed": "42",
            "setting-NANO_BANANA-aspect_ratio": "1:1",
        },
    )
    assert response.status_code == 303
    preset_id = response.headers["Location"].rsplit("/", 1)[1]
    with c.application.app_context():
        preset = db.session.get(Preset, preset_id)
        assert preset.settings == {"aspect_ratio": "3:4", "prompt_upsampling": True, "seed": 42}
    bad = c.post(
        "/admin/presets/new",
        data={
            "csrf_token": c.csrf,
            "name": "X",
            "prompt": "Y",
            "provider": "FLUX_PRO",
            "setting-FLUX_PRO-seed": "forty",
        },
    )
    assert bad.status_code == 400 and "whole number" in bad.get_data(as_text=True)
    duplicate = c.post(
        "/admin/presets/new", data={"csrf_token": c.csrf, "name": "Film Noir", "prompt": "Y", "provider": "NANO_BANANA"}
    )
    assert duplicate.status_code == 409 and "already exists" in duplicate.get_data(as_text=True)
    edit = c.get(f"/admin/presets/{preset_id}/edit").get_data(as_text=True)
    assert 'value="42"' in edit
    assert (
        c.post(
            f"/admin/presets/{preset_id}/edit",
            data={"csrf_token": c.csrf, "name": "Film Noir II", "prompt": "Grainy", "provider": "FLUX_PRO"},
        ).status_code
        == 303
    )
    create_preset(c, name="Pastel Dream")
    listing = c.get("/admin/presets?q=noir").get_data(as_text=True)
    assert "Film Noir II" in listing and "Pastel Dream" not in listing
    fragment = c.get("/admin/presets?q=pastel", headers=htmx(c, **{"HX-Target": "presets-table"})).get_data(
        as_text=True
    )
    assert fragment.startswith('\n<div id="presets-table"') or fragment.lstrip().startswith('<div id="presets-table"')
    assert "Pastel Dream" in fragment and "<html" not in fragment
    assert c.get("/admin/presets?q=100%25").status_code == 200
    deleted = c.post(f"/admin/presets/{preset_id}/delete", data={"csrf_token": c.csrf})
    assert deleted.status_code == 303
    with c.application.app_context():
        assert db.session.get(Preset, preset_id) is None


def test_delete_and_clear_usage_are_refused_while_a_job_runs(admin_client):
    c = admin_client
    preset = create_preset(c)
    c.post(form_url(preset["id"]), data={"examples_per_model": "1"}, headers=htmx(c))  # queued: live
    page = c.post(f"/admin/presets/{preset['id']}/delete", data={"csrf_token": c.csrf}, follow_redirects=True)
    assert "has a job in progress" in page.get_data(as_text=True)
    page = c.post(f"/admin/presets/{preset['id']}/clear-usage", data={"csrf_token": c.csrf}, follow_redirects=True)
    assert "has a job in progress" in page.get_data(as_text=True)
    with c.application.app_context():
        assert db.session.get(Preset, preset["id"]) is not None
        assert db.session.scalar(select(func.count()).select_from(PresetModelUsage)) == 20


def test_clear_usage_frees_every_model(admin_client, immediate_huey):
    c = admin_client
    preset = create_preset(c)
    c.post(form_url(preset["id"]), data={"examples_per_model": "1"}, headers=htmx(c))
    assert c.get(f"/admin/presets/{preset['id']}").get_data(as_text=True).count('class="pool-model used ') == 20
    page = c.post(f"/admin/presets/{preset['id']}/clear-usage", data={"csrf_token": c.csrf}, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert "Cleared 20 usage rows" in html and html.count('class="pool-model free ') == 72
    assert html.count('class="example"') == 20  # the gallery stays


def test_deleting_an_example_asks_whether_to_release_its_model(admin_client, immediate_huey):
    c = admin_client
    app = c.application
    preset = create_preset(c)
    c.post(form_url(preset["id"]), data={"examples_per_model": "1"}, headers=htmx(c))
    with app.app_context():
        kept, released = db.session.scalars(select(GalleryExample).limit(2)).all()
        kept_id, kept_model, released_id, released_model = kept.id, kept.model_id, released.id, released.model_id
        path = app.extensions["pixelglow"].storage.path_for(released.image_path)
    assert path.exists()
    r = c.post(f"/admin/presets/{preset['id']}/examples/{kept_id}/delete", data={}, headers=htmx(c))
    assert r.status_code == 200 and 'id="pool"' in r.get_data(as_text=True)
    r = c.post(f"/admin/presets/{preset['id']}/examples/{released_id}/delete", data={"release": "1"}, headers=htmx(c))
    assert "can be selected again" in r.get_data(as_text=True)
    assert not path.exists()
    with app.app_context():
        models = set(db.session.scalars(select(PresetModelUsage.model_id)))
        assert kept_model in models and released_model not in models
        assert db.session.scalar(select(func.count()).select_from(GalleryExample)) == 18


def test_deleting_an_example_and_releasing_a_model_a_running_job_holds_is_refused_and_keeps_everything(admin_client):
    """A retry works on models already used: deleting one of their examples must not free the model under it."""
    c = admin_client
    app = c.application
    preset = create_preset(c)
    example_id = seed(app, preset["id"], ["approved"])[0]
    with app.app_context():
        model_id = db.session.get(GalleryExample, example_id).model_id
    mark_used(app, preset["id"], [model_id])
    running = job(app, preset["id"], status="running", items=[model_id])  # its item pending on that model
    url = f"/admin/presets/{preset['id']}/examples/{example_id}/delete"
    for headers in (htmx(c), {"X-CSRFToken": c.csrf}):
        refused = c.post(url, data={"release": "1", "csrf_token": c.csrf}, headers=headers)
        assert refused.status_code == 409
        assert f"held by running job {running}" in refused.get_data(as_text=True)
        with app.app_context():
            assert db.session.get(GalleryExample, example_id) is not None
            assert db.session.query(PresetModelUsage).filter_by(model_id=model_id).one().state == "used"
    kept = c.post(url, data={"csrf_token": c.csrf}, headers=htmx(c))  # the example alone: the model stays held
    assert kept.status_code == 200
    with app.app_context():
        assert db.session.get(GalleryExample, example_id) is None
        assert db.session.query(PresetModelUsage).filter_by(model_id=model_id).count() == 1


def test_job_pages_show_the_per_model_outcome(admin_client, immediate_huey):
    c = admin_client
    preset = create_preset(c)
    c.post(form_url(preset["id"]), data={"examples_per_model": "1"}, headers=htmx(c))
    jobs = c.get("/admin/jobs").get_data(as_text=True)
    job_id = re.search(r"/admin/jobs/([0-9a-f]{32})", jobs).group(1)
    assert "succeeded" in jobs and "20 / 20" in jobs
    page = c.get(f"/admin/jobs/{job_id}").get_data(as_text=True)
    assert page.count('data-label="Model"') == 20 and "20 stored of 20" in re.sub(r"<[^>]+>", "", page)
    assert c.get("/admin/jobs/0000").status_code == 404


def test_offline_mode_banner(admin_client):
    assert "offline mode: placeholder images" in admin_client.get("/admin/presets").get_data(as_text=True).lower()


def test_media_needs_a_session_or_the_token(admin_client, immediate_huey):
    preset = create_preset(admin_client)
    admin_client.post(form_url(preset["id"]), data={"examples_per_model": "1"}, headers=htmx(admin_client))
    with admin_client.application.app_context():
        key = db.session.scalars(select(GalleryExample.image_path)).first()
    assert admin_client.get(f"/media/{key}").status_code == 200
    assert admin_client.application.test_client().get(f"/media/{key}").status_code == 401


# -- users commands -----------------------------------------------------------------------------------------
def test_users_create_prompts_for_the_password_and_the_admin_can_sign_in(make_app):
    app = make_app()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "Ada@Example.com"], input="a long passphrase\na long passphrase\n")
    assert result.exit_code == 0, result.output
    assert "a long passphrase" not in result.output
    again = runner.invoke(args=["users", "create", "ada@example.com"], input="another one 123\nanother one 123\n")
    assert again.exit_code != 0 and "already exists" in again.output
    short = runner.invoke(args=["users", "create", "bob@example.com"], input="short\nshort\n")
    assert short.exit_code != 0 and "at least 12" in short.output
    client = app.test_client()
    sign_in(client, "ada@example.com", "a long passphrase")
    assert "ada@example.com" in client.get("/admin/presets").get_data(as_text=True)
    listing = runner.invoke(args=["users", "list"])
    assert "ada@example.com" in listing.output


def test_demo_creates_a_demo_admin_idempotently_and_prints_its_credentials(make_app):
    app = make_app()
    runner = app.test_cli_runner()
    with app.app_context():  # `flask` pushes one for every command; the test runner does not for plain commands
        first = runner.invoke(args=["demo"])
        second = runner.invoke(args=["demo"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    password = re.search(r"email admin@example.com\s+password (\S+)", first.output).group(1)
    assert f"password {password}" in second.output and "exists" in second.output
    client = app.test_client()
    sign_in(client, "admin@example.com", password)
    assert ADMIN_EMAIL not in client.get("/admin/presets").get_data(as_text=True)


def test_cancel_and_retry_buttons_drive_the_same_operations_as_the_api(admin_app, admin_client):
    from app.core.database import db
    from app.models import Job

    admin_app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    preset = create_preset(admin_client)
    job_id = post_generate(admin_client, preset["id"]).get_json()["jobId"]
    page = admin_client.get(f"/admin/jobs/{job_id}").get_data(as_text=True)
    assert f'action="/admin/jobs/{job_id}/cancel"' in page
    refused = admin_client.post(f"/admin/jobs/{job_id}/cancel", data={})
    assert refused.status_code == 400, "no CSRF token, no cancel"
    response = admin_client.post(
        f"/admin/jobs/{job_id}/cancel", data={"csrf_token": admin_client.csrf, "next": "https://evil.example/"}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/admin/jobs/{job_id}")
    with admin_app.app_context():
        assert db.session.get(Job, job_id).status == "canceled"
    page = admin_client.get(f"/admin/jobs/{job_id}").get_data(as_text=True)
    assert "Job canceled." in page and "Retry 20 canceled items" in page
    retried = admin_client.post(f"/admin/jobs/{job_id}/retry", data={"csrf_token": admin_client.csrf})
    assert retried.status_code == 303
    new_job = retried.headers["Location"].rsplit("/", 1)[1]
    with admin_app.app_context():
        assert db.session.get(Job, new_job).retry_of == job_id
        assert db.session.query(JobItem).filter_by(job_id=new_job).count() == 20


def test_a_running_record_nobody_updates_gives_way_to_the_job_row(admin_client):
    from tests.conftest import auth_headers as bearer

    app = admin_client.application
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    preset = create_preset(admin_client)
    job_id = admin_client.post(generate_url(preset["id"]), json={"examplesPerModel": 1}, headers=bearer()).get_json()[
        "jobId"
    ]
    stale = progress_record(job_id, preset["id"], "running", 3)
    stale["updatedAt"] = (utcnow() - timedelta(hours=1)).isoformat() + "Z"
    app.extensions["pixelglow"].progress.write(job_id, stale)
    html = admin_client.get(f"/admin/jobs/{job_id}/progress?shown=0", headers=htmx(admin_client)).get_data(as_text=True)
    assert 'data-status="queued"' in html, "a dead worker's last word is not shown as live progress"
