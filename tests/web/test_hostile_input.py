"""Each input that once gave a 500 with a traceback now gets a 4xx with a message, on PostgreSQL and SQLite,
and nothing at ERROR level in the log: deep JSON, unpaired surrogates, NUL, CR/LF in redirect targets,
NaN / Infinity (refused on the way in, never written on the way out)."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import text

from app.core.database import db
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    auth_headers,
    create_admin,
    create_preset,
    csrf_token_of,
    post_generate,
    sign_in,
)

DATABASES = ["postgres", "sqlite"]


@pytest.fixture(params=DATABASES)
def hostile_app(make_app, request, caplog):
    caplog.set_level(logging.WARNING)
    app = make_app(database=request.param)
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    create_admin(app)
    yield app
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, [r.getMessage() for r in errors]


def post_raw(client, url, raw: str, method="POST"):
    return client.open(
        url,
        method=method,
        data=raw.encode("utf-8", "surrogatepass"),
        headers=auth_headers(**{"Content-Type": "application/json"}),
    )


def error_of(response) -> str:
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert body["success"] is False
    return body["error"]


@pytest.mark.parametrize(
    "raw, words",
    [
        ('{"a":' * 2000, "nested too deeply"),
        ("[" * 5000, "nested too deeply"),
        (json.dumps({"name": "s\ud800", "prompt": "p"}), "unpaired surrogate"),
        ('{"name": "s\\ud800", "prompt": "p"}', "unpaired surrogate"),
        ('{"name": "a\\u0000b", "prompt": "p"}', "NUL"),
        ('{"name": "n", "prompt": "p", "settings": {"seed": NaN}}', "NaN"),
        ('{"name": "n", "prompt": "p", "settings": {"seed": Infinity}}', "Infinity"),
        ('{"name": "n", "prompt": "p", "settings": {"seed": 1e999}}', "finite"),
        ('{"name": "n", "prompt": "p", "settings": {"seed": ' + "9" * 5000 + "}}", "digits"),
        ('{"name": "' + "x" * 1_100_000 + '"}', "too large"),  # over MAX_CONTENT_LENGTH: 413
    ],
    ids=[
        "deep-object",
        "deep-array",
        "surrogate",
        "escaped-surrogate",
        "nul",
        "nan",
        "infinity",
        "1e999",
        "huge-int",
        "big",
    ],
)
def test_hostile_json_gets_a_400_naming_the_problem(hostile_app, raw, words):
    client = hostile_app.test_client()
    preset = create_preset(client)
    for url, method in (
        ("/api/admin/presets", "POST"),
        (f"/api/admin/presets/{preset['id']}", "PATCH"),
        (f"/api/admin/presets/{preset['id']}/generate-examples", "POST"),
    ):
        response = post_raw(client, url, raw, method)
        assert words.lower() in error_of(response).lower(), (url, response.get_json())


def test_nul_in_forms_and_query_strings_gets_a_400(hostile_app):
    client = hostile_app.test_client()
    csrf = sign_in(client)
    form = {"name": "Noir\x00", "prompt": "Film noir", "provider": "NANO_BANANA", "csrf_token": csrf}
    response = client.post("/admin/presets/new", data=form)
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)
    assert client.get("/admin/presets?q=a%00b").status_code == 400
    assert client.get("/api/admin/presets?x=%00", headers=auth_headers()).status_code == 400


def test_cr_lf_and_foreign_targets_in_next_fall_back_to_a_safe_page(hostile_app):
    hostile = [
        "/admin/jobs\r\nSet-Cookie: evil=1",
        "/admin/jobs\nX: y",
        "https://evil.example/admin",
        "//evil.example/admin",
        "/\\evil.example",
        "\\\\evil.example",
        "/admin\\..\\evil",
        "javascript:alert(1)",
    ]
    for target in hostile:
        client = hostile_app.test_client()
        page = client.get("/admin/login", query_string={"next": target})
        assert page.status_code == 200
        token = csrf_token_of(page.get_data(as_text=True))
        response = client.post(
            "/admin/login",
            data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token, "next": target},
        )
        assert response.status_code == 303 and response.headers["Location"] == "/admin/presets", target
    # the cancel form's `next`
    client = hostile_app.test_client()
    csrf = sign_in(client)
    preset = create_preset(client, name="Cancel me")
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    for target in hostile:
        response = client.post(f"/admin/jobs/{job_id}/cancel", data={"csrf_token": csrf, "next": target})
        assert response.status_code == 303 and response.headers["Location"] == f"/admin/jobs/{job_id}", target


def test_nan_from_the_form_is_refused_and_a_stored_nan_is_never_emitted(hostile_app):
    client = hostile_app.test_client()
    csrf = sign_in(client)
    preset = create_preset(client, name="Settings", provider="STABLE_DIFFUSION")
    for value in ("nan", "inf", "-Infinity", "1e999"):
        form = {
            "name": "Settings",
            "prompt": "p",
            "provider": "STABLE_DIFFUSION",
            "setting-STABLE_DIFFUSION-guidance_scale": value,  # NaN passes a min/max check
            "csrf_token": csrf,
        }
        response = client.post(f"/admin/presets/{preset['id']}/edit", data=form)
        assert response.status_code == 400, (value, response.status_code)
    with hostile_app.app_context():  # a NaN that got in before (SQLite stores it): answers stay valid JSON
        if db.engine.dialect.name == "sqlite":
            db.session.execute(
                text("UPDATE presets SET settings = :s WHERE id = :id"),
                {"s": '{"guidance_scale": NaN}', "id": preset["id"]},
            )
        else:
            db.session.execute(
                text("UPDATE presets SET settings = CAST(:s AS jsonb) WHERE id = :id"),
                {"s": '{"guidance_scale": "NaN"}', "id": preset["id"]},
            )
        db.session.commit()
    response = client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers())
    assert response.status_code == 200
    raw = response.get_data(as_text=True)
    assert "NaN" not in raw or '"NaN"' in raw  # no bare NaN token
    json.loads(raw, parse_constant=lambda name: pytest.fail(f"{name} emitted"))
