"""Faces offline (issue 33, acceptance 4): offline, a card shows a labelled placeholder beside its output; the
model pool's thumbnails are there for "choose models" only, loaded by the page's script when that is chosen."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from app.pool.placeholder_photo import SIZE, placeholder_png
from tests.conftest import create_preset, post_generate


@pytest.mark.fast
def test_the_placeholder_is_a_portrait_png_of_the_thumbnails_size():
    image = Image.open(io.BytesIO(placeholder_png("female_05", "female")))
    assert image.format == "PNG" and image.size == SIZE
    assert placeholder_png("female_05", "female") != placeholder_png("male_05", "male")


def test_offline_cards_show_a_labelled_placeholder_beside_their_output(admin_client, immediate_huey):
    preset = create_preset(admin_client)
    assert post_generate(admin_client, preset["id"]).status_code == 202
    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    cards = re.findall(r'<li class="example".*?</a>', page, re.S)
    assert len(cards) == 20
    for card in cards:
        model_id = re.search(r'data-model-id="([^"]+)"', card).group(1)
        assert f'<img class="reference" src="/admin/models/{model_id}/placeholder.png"' in card
        assert f'alt="Placeholder (photo not cached) for model {model_id}"' in card
        assert '<img class="output"' in card and "Reference not cached" not in card
    image = admin_client.get(f"/admin/models/{model_id}/placeholder.png")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert Image.open(io.BytesIO(image.data)).size == SIZE
    assert admin_client.get("/admin/models/nobody_99/placeholder.png").status_code == 404


def test_the_pool_names_72_thumbnails_and_loads_none_until_choosing(admin_client):
    """The page holds no pool thumbnail: "choose models" (admin.js) adds them from the list's URL template
    (tests/browser/test_first_run_faces.py loads all 72 there)."""
    preset = create_preset(admin_client)
    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert "pool-thumb" not in page
    template = re.search(r'<ul class="pool-models"[^>]* data-thumb-url="([^"]+)"', page).group(1)
    models = re.findall(r'<li class="pool-model [^"]*" data-pool-model="([^"]+)"', page)
    assert len(models) == 72
    answer = admin_client.get(template.replace("MODEL", models[0]))  # not cached: the placeholder
    assert answer.status_code == 200 and answer.mimetype == "image/png"
