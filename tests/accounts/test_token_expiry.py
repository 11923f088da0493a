"""Named API tokens may expire (`tokens create NAME --expires 90d`): past it, 401 saying so. ADMIN_API_TOKEN is
optional in production: unset, only named tokens are accepted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.tokens import ApiToken
from app.core.config import load_settings
from app.core.database import db
from app.models import utcnow
from tests.conftest import API_TOKEN, auth_headers
from tests.helpers import PRODUCTION


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def create(app, *args: str):
    return app.test_cli_runner().invoke(args=["tokens", "create", *args])


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_a_token_past_its_expiry_gets_401_saying_it_expired(make_app, database):
    app = make_app(database)
    created = create(app, "nightly", "--expires", "90d")
    assert created.exit_code == 0, created.output
    assert "expires" in created.output
    token = created.output.strip().splitlines()[-1]
    client = app.test_client()
    assert client.get("/api/admin/presets", headers=bearer(token)).status_code == 200
    with app.app_context():
        row = db.session.scalar(select(ApiToken).where(ApiToken.name == "nightly"))
        assert timedelta(days=89) < row.expires_at - utcnow() <= timedelta(days=90)
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    refused = client.get("/api/admin/presets", headers=bearer(token))
    assert refused.status_code == 401
    message = refused.get_json()["error"]
    assert "'nightly' expired on" in message and "tokens create" in message, message
    assert client.get("/admin/presets", headers=bearer(token)).status_code == 401  # no sign-in redirect either
    listed = app.test_cli_runner().invoke(args=["tokens", "list"]).output
    assert "nightly" in listed and "EXPIRED" in listed, listed


def test_a_token_without_expiry_never_expires_and_says_so(make_app):
    app = make_app()
    token = create(app, "forever").output.strip().splitlines()[-1]
    assert app.test_client().get("/api/admin/presets", headers=bearer(token)).status_code == 200
    assert "active, never expires" in app.test_cli_runner().invoke(args=["tokens", "list"]).output


@pytest.mark.parametrize("typed", ["90", "90m", "0d", "-1d", "1.5d", "soon", "99999w", ""])
def test_a_bad_expiry_is_refused_with_what_is_accepted_and_nothing_is_created(make_app, typed):
    app = make_app()
    refused = create(app, "ci", "--expires", typed)
    assert refused.exit_code != 0 and "--expires" in refused.output, refused.output
    assert "hours, days or weeks" in refused.output or "ten years" in refused.output, refused.output
    with app.app_context():
        assert db.session.scalars(select(ApiToken)).all() == []


@pytest.mark.fast
def test_lifetimes_are_hours_days_or_weeks():
    from app.accounts.tokens import TokenError, parse_lifetime

    assert parse_lifetime("12h") == timedelta(hours=12)
    assert parse_lifetime("90d") == timedelta(days=90)
    assert parse_lifetime(" 8W ") == timedelta(weeks=8)
    with pytest.raises(TokenError, match="hours, days or weeks"):
        parse_lifetime("3 months")


def test_production_starts_without_admin_api_token_and_then_accepts_only_named_tokens(make_app, tmp_path):
    environ = {k: v for k, v in PRODUCTION.items() if k != "ADMIN_API_TOKEN"}
    assert load_settings({**environ, "INSTANCE_PATH": str(tmp_path)}).admin_api_token is None
    app = make_app(APP_ENV="production", ADMIN_API_TOKEN="", GALLERY_FEED_PUBLIC="1")
    assert app.extensions["pixelglow"].settings.admin_api_token is None
    client = app.test_client()
    for headers in (auth_headers(), bearer(""), {"Authorization": "Bearer "}, bearer("None")):
        refused = client.get("/api/admin/presets", headers=headers)
        assert refused.status_code == 401, headers
    assert API_TOKEN  # the token the other tests use is simply not configured here
    token = create(app, "deploy").output.strip().splitlines()[-1]
    assert client.get("/api/admin/presets", headers=bearer(token)).status_code == 200
