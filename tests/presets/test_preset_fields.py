"""One parser for a preset's fields: the admin's form and the JSON API refuse the same invalid input by the same
rules (the form's post is only converted to the JSON body's shape, then checked by the same rules); the form names
each problem beside its field."""

from __future__ import annotations

import html
import re

import pytest

from app.presets.rules import MAX_NAME, MAX_PROMPT, fields_from_form
from app.providers.catalog import PROVIDERS
from tests.conftest import auth_headers, create_preset

OK = {"name": "Film Noir", "prompt": "black and white", "provider": "NANO_BANANA"}
# (what is wrong, the fields as the form sends them (settings as text), the same fields as the JSON body)
CASES = [
    ("empty name", {"name": ""}, {"name": ""}),
    ("blank name", {"name": "   "}, {"name": "   "}),
    ("name too long", {"name": "n" * (MAX_NAME + 1)}, {"name": "n" * (MAX_NAME + 1)}),
    ("escape sequence in the name", {"name": "Noir\x1b[2J"}, {"name": "Noir\x1b[2J"}),
    ("empty prompt", {"prompt": ""}, {"prompt": ""}),
    ("prompt too long", {"prompt": "p" * (MAX_PROMPT + 1)}, {"prompt": "p" * (MAX_PROMPT + 1)}),
    ("bell in the prompt", {"prompt": "ring\x07"}, {"prompt": "ring\x07"}),
    ("unknown provider", {"provider": "NOPE"}, {"provider": "NOPE"}),
    ("lower-case provider", {"provider": "flux_pro"}, {"provider": "flux_pro"}),
    (
        "setting above its maximum",
        {"provider": "FLUX_PRO", "setting-FLUX_PRO-safety_tolerance": "9"},
        {"provider": "FLUX_PRO", "settings": {"safety_tolerance": 9}},
    ),
    (
        "setting below its minimum",
        {"provider": "FLUX_PRO", "setting-FLUX_PRO-width": "100"},
        {"provider": "FLUX_PRO", "settings": {"width": 100}},
    ),
    (
        "number out of range",
        {"provider": "STABLE_DIFFUSION", "setting-STABLE_DIFFUSION-guidance_scale": "25.5"},
        {"provider": "STABLE_DIFFUSION", "settings": {"guidance_scale": 25.5}},
    ),
    (
        "choice not offered",
        {"provider": "FLUX_PRO", "setting-FLUX_PRO-aspect_ratio": "7:5"},
        {"provider": "FLUX_PRO", "settings": {"aspect_ratio": "7:5"}},
    ),
    (
        "number not among the allowed sizes",
        {"provider": "STABLE_DIFFUSION", "setting-STABLE_DIFFUSION-width": "300"},
        {"provider": "STABLE_DIFFUSION", "settings": {"width": 300}},
    ),
    (
        "text where a whole number goes",
        {"provider": "FLUX_PRO", "setting-FLUX_PRO-seed": "forty"},
        {"provider": "FLUX_PRO", "settings": {"seed": "forty"}},
    ),
    (
        "fraction where a whole number goes",
        {"provider": "FLUX_PRO", "setting-FLUX_PRO-seed": "1.5"},
        {"provider": "FLUX_PRO", "settings": {"seed": "1.5"}},
    ),
    (
        "text where yes or no goes",
        {"provider": "FLUX_PRO", "setting-FLUX_PRO-prompt_upsampling": "yes"},
        {"provider": "FLUX_PRO", "settings": {"prompt_upsampling": "yes"}},
    ),
    (
        "NaN where a number goes",
        {"provider": "STABLE_DIFFUSION", "setting-STABLE_DIFFUSION-prompt_strength": "nan"},
        {"provider": "STABLE_DIFFUSION", "settings": {"prompt_strength": "nan"}},
    ),
    (
        "unknown setting",
        {"provider": "NANO_BANANA", "setting-NANO_BANANA-colour": "red"},
        {"provider": "NANO_BANANA", "settings": {"colour": "red"}},
    ),
    (
        "another provider's setting",
        {"provider": "NANO_BANANA", "setting-NANO_BANANA-seed": "42"},
        {"provider": "NANO_BANANA", "settings": {"seed": 42}},
    ),
]


def form_error(response) -> str:
    """The summary's lines the form shows above itself, as text."""
    found = re.search(r'<div class="alert error error-summary".*?<ul>(.*?)</ul>', response.get_data(as_text=True), re.S)
    assert found, response.get_data(as_text=True)[:500]
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def field_error(response, field_id: str) -> str | None:
    """The message shown beside the field, when its control is marked invalid and described by it."""
    text = response.get_data(as_text=True)
    found = re.search(rf'<p class="field-error" id="{field_id}-error">.*?</span>(.*?)</p>', text, re.S)
    control = re.search(rf'<(?:input|textarea|select) id="{field_id}"[^>]*>', text)
    if not found or not control:
        return None
    assert 'aria-invalid="true"' in control.group() and f'aria-describedby="{field_id}-error' in control.group()
    return html.unescape(found.group(1))


def expected_field(form: dict) -> str | None:
    """The field the form should mark: a setting it offers, or name / prompt / provider (None: a setting the
    form has no field for, shown in the summary only)."""
    settings = [k for k in form if k.startswith("setting-")]
    if settings:
        provider, key = settings[0].split("-", 2)[1:]
        offered = PROVIDERS.get(provider)
        return settings[0] if offered and key in offered.settings else None
    return next(iter(k for k in form if k in ("name", "prompt", "provider")))


@pytest.mark.parametrize(("problem", "form", "body"), CASES, ids=[case[0] for case in CASES])
def test_the_form_and_the_api_refuse_the_same_input(admin_client, problem, form, body):
    api = admin_client.post("/api/admin/presets", json=OK | {"settings": {}} | body, headers=auth_headers())
    page = admin_client.post("/admin/presets/new", data={"csrf_token": admin_client.csrf} | OK | form)
    assert api.status_code == page.status_code == 400, (api.get_json(), page.status_code)
    message, field = api.get_json()["error"], expected_field(form)
    if field is None:
        assert form_error(page) == message, problem
        return
    shown = field_error(page, field)
    assert shown, problem
    if field.startswith("setting-"):  # "setting 'width' must be at least 256 (got 100)" beside Width
        assert message == f"setting {field.split('-', 2)[2]!r} {shown[0].lower()}{shown[1:].rstrip('.')}", problem
    elif field == "provider":
        assert shown.startswith("Choose one of: Nano Banana"), shown
    elif form[field].strip():
        assert shown.rstrip(".").lower() == message.rstrip(".").lower(), problem
    else:
        assert shown == f"Enter a {field}.", problem


def test_a_taken_name_is_refused_alike_by_the_form_the_api_and_the_cli(admin_client):
    create_preset(admin_client, name="Film Noir")
    api = admin_client.post("/api/admin/presets", json=OK, headers=auth_headers())
    page = admin_client.post("/admin/presets/new", data={"csrf_token": admin_client.csrf} | OK)
    cli = admin_client.application.test_cli_runner().invoke(
        args=["presets", "create", "--name", OK["name"], "--prompt", OK["prompt"]]
    )
    assert api.status_code == page.status_code == 409
    assert field_error(page, "name") == api.get_json()["error"] and api.get_json()["error"] in cli.output


def test_renaming_a_preset_to_a_taken_name_is_refused_and_changes_nothing(admin_client):
    """The provider is looked up while the preset is half-edited: that read must not flush the taken name."""
    create_preset(admin_client, name="Film Noir")
    other = create_preset(admin_client, name="Watercolor")
    for body in ({"name": "Film Noir"}, {"name": "Film Noir", "provider": "FLUX_PRO"}):
        answer = admin_client.patch(f"/api/admin/presets/{other['id']}", json=body, headers=auth_headers())
        assert answer.status_code == 409 and "already exists" in answer.get_json()["error"], answer.get_json()
    kept = admin_client.get(f"/api/admin/presets/{other['id']}", headers=auth_headers()).get_json()
    assert kept["name"] == "Watercolor" and kept["provider"] == other["provider"]


def test_the_form_is_only_converted_to_the_bodys_shape():
    """Only the chosen provider's settings count; a field that is its type's text becomes the value, any other
    text is passed on for the schema to name; an empty field keeps the model's default."""
    fields = fields_from_form(
        {
            "name": "N",
            "prompt": "P",
            "provider": "FLUX_PRO",
            "csrf_token": "t",
            "setting-FLUX_PRO-seed": " 42 ",
            "setting-FLUX_PRO-prompt_upsampling": "true",
            "setting-FLUX_PRO-width": "",
            "setting-FLUX_PRO-height": "wide",
            "setting-NANO_BANANA-output_format": "png",
        }
    )
    assert fields == {
        "name": "N",
        "prompt": "P",
        "provider": "FLUX_PRO",
        "settings": {"seed": 42, "prompt_upsampling": True, "height": "wide"},
    }
