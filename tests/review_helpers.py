"""Shared by the review mode's tests (test client and Chromium): a gallery of unreviewed examples, the verdicts
to give them, and what the API says each one is."""

from __future__ import annotations

from datetime import timedelta

from app.core.database import db
from app.models import GalleryExample, utcnow
from tests.conftest import auth_headers

PLAN = "AFRAARFAFRAAFRRAFAAF"  # 20 verdicts, by key: A approve, F feature, R reject
STATE_OF_KEY = {"A": "approved", "F": "featured", "R": "rejected", "U": "unreviewed"}


def add_unreviewed(app, preset_id: str, count: int = 20, job_id: str | None = None) -> list[str]:
    """`count` unreviewed examples, the first the newest (so the gallery's order is this list's)."""
    with app.app_context():
        now = utcnow()
        rows = [
            GalleryExample(
                preset_id=preset_id,
                job_id=job_id,
                model_id=f"{'female' if n % 2 else 'male'}_{n + 1:02d}",
                gender="female" if n % 2 else "male",
                example_index=0,
                provider="NANO_BANANA",
                prompt="Studio portrait, soft light",
                image_path=f"examples/{preset_id}/m{n:02d}-0.png",
                created_at=now - timedelta(seconds=n),
            )
            for n in range(count)
        ]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def api_states(client, preset_id: str) -> dict[str, str]:
    """Every example's verdict as the JSON API says it (rejected ones are asked for apart)."""
    states: dict[str, str] = {}
    for query in ("perPage=100", "perPage=100&state=rejected"):
        response = client.get(f"/api/admin/presets/{preset_id}/gallery?{query}", headers=auth_headers())
        assert response.status_code == 200, response.get_json()
        states |= {item["id"]: item["state"] for item in response.get_json()["items"]}
    return states
