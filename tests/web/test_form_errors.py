"""Errors where they belong (issue 33) for the generate form and the gallery filters: each problem beside its
field, the field marked invalid and described by its message, a summary at the top linking to it."""

from __future__ import annotations

import re

import pytest

from app.web.admin.form_errors import FormErrors
from tests.conftest import create_preset
from tests.helpers import htmx


def control(html: str, field_id: str) -> str:
    found = re.search(rf'<(?:input|select|textarea|fieldset)\b[^>]*\bid="{field_id}"[^>]*>', html)
    assert found, f"no control #{field_id}"
    return found.group()


@pytest.mark.fast
def test_only_the_first_invalid_field_gets_focus_and_each_is_described_by_its_message():
    errors = FormErrors()
    errors.add("prompt", "Prompt", "Enter a prompt.")
    errors.add("seed", "Seed", "Must be an integer.")
    assert str(errors.attrs("prompt", "prompt-help")) == (
        'aria-describedby="prompt-error prompt-help" aria-invalid="true" autofocus'
    )
    assert str(errors.attrs("seed")) == 'aria-describedby="seed-error" aria-invalid="true"'
    assert str(errors.attrs("name", "name-help")) == 'aria-describedby="name-help"' and not FormErrors()


def test_a_refused_gallery_filter_is_named_beside_its_field(admin_client):
    preset = create_preset(admin_client)
    for headers in ({}, htmx(admin_client, **{"HX-Target": "gallery-section"})):
        response = admin_client.get(f"/admin/presets/{preset['id']}?job=no%20such%20job!", headers=headers)
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        field = control(html, "filter-job")
        assert 'aria-invalid="true"' in field and 'aria-describedby="filter-job-error"' in field
        assert re.search(r'id="filter-job-error">.*?job must be a job id', html, re.S)
        assert '<a href="#filter-job">Job: job must be a job id' in html  # the summary links to it
        assert 'aria-invalid="true"' not in control(html, "filter-state")


def test_a_page_number_the_form_has_no_field_for_is_said_above_the_gallery(admin_client):
    preset = create_preset(admin_client)
    html = admin_client.get(f"/admin/presets/{preset['id']}?page=0").get_data(as_text=True)
    assert re.search(r"data-error-summary>.*?<li>page must be a whole number", html, re.S)
    assert 'aria-invalid="true"' not in html


def test_the_generate_forms_errors_go_beside_their_fields(admin_client):
    preset = create_preset(admin_client)
    url = f"/admin/presets/{preset['id']}/generate"
    response = admin_client.post(url, data={"examples_per_model": "9", "mode": "choose"}, headers=htmx(admin_client))
    html = response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#generate-feedback"
    # the summary links to both fields; each message replaces its field's slot (out of band) and names it
    assert '<a href="#examples_per_model">Examples per model: Enter a whole number between 1 and 4' in html
    assert '<a href="#pick-mode">Models: Tick at least one free model' in html
    for field_id in ("examples_per_model", "pick-mode"):
        assert f'id="{field_id}-error" hx-swap-oob="true" data-invalid-for="{field_id}"' in html
    superscript = admin_client.post(url, data={"examples_per_model": "²"}, headers=htmx(admin_client))
    assert "Enter a whole number between 1 and 4 (got &#39;²&#39;)" in superscript.get_data(as_text=True)  # not a 500
    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    for field_id in ("examples_per_model", "pick-mode"):  # the slots the messages replace, tied to their fields
        assert f'id="{field_id}-error" hidden' in page
        assert f'aria-describedby="{field_id}-error"' in control(page, field_id)
