"""Shared by the review mode's tests (test client and Chromium): a gallery of unreviewed examples, the verdicts
to give them, and what the API says each one is."""

from __future__ import annotations

from tests import factories
from tests.conftest import auth_headers

PLAN = "AFRAARFAFRAAFRRAFAAF"  # 20 verdicts, by key: A approve, F feature, R reject
STATE_OF_KEY = {"A": "approved", "F": "featured", "R": "rejected", "U": "unreviewed"}


def add_unreviewed(app, preset_id: str, count: int = 20, job_id: str | None = None) -> list[str]:
    """`count` unreviewed examples, the first the newest (so the gallery's order is this list's)."""
    models = [f"{'female' if n % 2 else 'male'}_{n + 1:02d}" for n in range(count)]
    return factories.examples(
        app,
        preset_id,
        models,
        job_id=job_id,
        prompt="Studio portrait, soft light",
        each=lambda n, _model: {"image_path": f"examples/{preset_id}/m{n:02d}-0.png"},
    )


def api_states(client, preset_id: str) -> dict[str, str]:
    """Every example's verdict as the JSON API says it (rejected ones are asked for apart)."""
    states: dict[str, str] = {}
    for query in ("perPage=100", "perPage=100&state=rejected"):
        response = client.get(f"/api/admin/presets/{preset_id}/gallery?{query}", headers=auth_headers())
        assert response.status_code == 200, response.get_json()
        states |= {item["id"]: item["state"] for item in response.get_json()["items"]}
    return states
