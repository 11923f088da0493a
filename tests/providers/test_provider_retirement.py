"""A retired provider (issue 35, acceptance 4): the presets on it say so and offer the active providers; generate
answers 409 naming them, from the API and from the page's form, with nothing reserved; the jobs and examples it
made keep its display name."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.core.database import db
from app.models import GalleryExample, Job, JobItem, PresetModelUsage, SpendEntry
from app.spend import ledger
from tests.conftest import create_preset, post_generate, wait_for_job
from tests.helpers import htmx

ACTIVE = {
    "NANO_BANANA": "Nano Banana",
    "FLUX_KONTEXT": "FLUX Kontext Pro",
    "STABLE_DIFFUSION": "Stable Diffusion img2img",
}


def retire(app, key: str = "FLUX_PRO") -> None:
    result = app.test_cli_runner().invoke(args=["providers", "retire", key])
    assert result.exit_code == 0, result.output


def nothing_reserved(app, preset_id: str) -> None:
    with app.app_context():
        for table in (Job, JobItem, PresetModelUsage, SpendEntry):
            assert db.session.scalar(select(func.count()).select_from(table)) == 0, table.__name__
        assert ledger.month_json(app.extensions["pixelglow"].settings)["reservedUsd"] == "0"


def test_the_preset_page_and_its_edit_form_say_it_is_retired_and_offer_the_active_ones(admin_client):
    preset = create_preset(admin_client, provider="FLUX_PRO", settings={"aspect_ratio": "2:3"})
    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert 'id="provider-retired"' not in page
    retire(admin_client.application)

    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    banner = re.search(r'<div class="alert error" role="alert" id="provider-retired">(.*?)</div>', page, re.S)
    assert banner, page
    text = banner.group(1)
    assert "FLUX 1.1 Pro is retired" in text and f"/admin/presets/{preset['id']}/edit" in text
    for key, name in ACTIVE.items():
        assert f"<strong>{name}</strong>" in text and f"<code>{key}</code>" in text
    assert "FLUX_PRO</code>" not in text
    assert 'id="settings-problem"' not in page  # the retirement is said once, not as a refused setting

    form = admin_client.get(f"/admin/presets/{preset['id']}/edit").get_data(as_text=True)
    assert "FLUX 1.1 Pro, this preset's provider, is retired" in form
    select = re.search(r'<select id="provider".*?</select>', form, re.S)
    assert select
    options = re.findall(r'<option value="([A-Z_]+)"', select.group())
    assert options == list(ACTIVE)  # the select offers the active ones only
    # switching it through the form makes it runnable again, with its history kept
    saved = admin_client.post(
        f"/admin/presets/{preset['id']}/edit",
        data={"csrf_token": admin_client.csrf, "name": preset["name"], "prompt": "portrait", "provider": "NANO_BANANA"},
    )
    assert saved.status_code == 303
    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert 'id="provider-retired"' not in page


def test_generate_answers_409_naming_the_active_ones_and_reserves_nothing(admin_client):
    app = admin_client.application
    preset = create_preset(admin_client, provider="FLUX_PRO")
    retire(app)

    response = post_generate(app.test_client(), preset["id"])
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error.startswith('Preset "Professional Headshot" cannot generate: its provider FLUX 1.1 Pro (FLUX_PRO)')
    assert "is retired; switch the preset to one of " + ", ".join(f"{n} ({k})" for k, n in ACTIVE.items()) in error
    assert error.endswith("Nothing was queued.")
    nothing_reserved(app, preset["id"])

    url = f"/admin/presets/{preset['id']}/generate"
    fragment = admin_client.post(url, data={"examples_per_model": "1", "mode": "random"}, headers=htmx(admin_client))
    assert fragment.status_code == 200 and fragment.headers["HX-Retarget"] == "#generate-feedback"
    html = fragment.get_data(as_text=True)
    assert "FLUX 1.1 Pro (FLUX_PRO) is retired" in html and "Nano Banana (NANO_BANANA)" in html
    plain = admin_client.post(url, data={"csrf_token": admin_client.csrf, "examples_per_model": "1"})
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"/admin/presets/{preset['id']}")
    page = admin_client.get(plain.headers["Location"]).get_data(as_text=True)
    assert "cannot generate: its provider FLUX 1.1 Pro (FLUX_PRO) is retired" in page  # flashed
    nothing_reserved(app, preset["id"])


def test_a_retired_providers_jobs_and_examples_keep_its_display_name(admin_client, immediate_huey):
    app = admin_client.application
    preset = create_preset(admin_client, provider="FLUX_PRO")
    response = post_generate(app.test_client(), preset["id"])
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["jobId"]
    assert wait_for_job(app, job_id).status == "succeeded"
    retire(app)

    with app.app_context():
        example_id = db.session.scalar(select(GalleryExample.id).where(GalleryExample.job_id == job_id).limit(1))
    pages = {
        "job": f"/admin/jobs/{job_id}",
        "example": f"/admin/presets/{preset['id']}/examples/{example_id}",
        "presets": "/admin/presets",
        "preset": f"/admin/presets/{preset['id']}",
    }
    for what, url in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, (what, response.status_code)
        assert "FLUX 1.1 Pro" in response.get_data(as_text=True), what
    # the preset's gallery still lists what it made
    assert example_id in admin_client.get(pages["preset"]).get_data(as_text=True)
