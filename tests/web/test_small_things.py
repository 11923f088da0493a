"""Issue 33, "the small things": words a curator reads on the jobs page, and Sessions in the nav."""

from __future__ import annotations

import re

import pytest

from tests import factories
from tests.helpers import signed_in


@pytest.fixture
def app(make_app):
    return make_app(queue="embedded")


def test_the_jobs_page_counts_in_words(app):
    client = signed_in(app)
    assert "No generation jobs yet" in client.get("/admin/jobs").get_data(as_text=True)
    assert "The 0 most recent" not in client.get("/admin/jobs").get_data(as_text=True)
    preset_id = factories.preset(app, "Noir")
    factories.job(app, preset_id)
    assert "The one generation job so far." in client.get("/admin/jobs").get_data(as_text=True)
    factories.job(app, preset_id)
    assert "The 2 most recent generation jobs." in client.get("/admin/jobs").get_data(as_text=True)


def test_sessions_are_in_the_nav(app):
    html = signed_in(app).get("/admin/presets").get_data(as_text=True)
    nav = re.search(r'<nav class="nav".*?</nav>', html, re.S).group(0)
    assert '<a href="/admin/sessions"' in nav
