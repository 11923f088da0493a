"""A preset whose gallery holds `count` unreviewed examples with real images: for the review mode's browser tests."""

from __future__ import annotations

from app.core.database import db
from app.models import GalleryExample
from app.services import services_of
from tests.browser.gallery_seed import picture
from tests.conftest import create_preset
from tests.review_helpers import add_unreviewed


def seed_review(live, count: int = 20) -> tuple[str, list[str]]:
    """The preset (made through the API) and its examples, each with an output image in storage."""
    client = live.app.test_client()
    preset = create_preset(client, name="Review Me")
    ids = add_unreviewed(live.app, preset["id"], count)
    storage = services_of(live.app).storage

    def save_images():
        for n, example in enumerate(db.session.query(GalleryExample).filter_by(preset_id=preset["id"])):
            storage.save_bytes(example.image_path, picture(f"OUTPUT {example.model_id}", (40 + n * 9, 50, 70)))

    live.query(save_images)
    return preset["id"], ids
