"""Each example beside its model, with Flask's test client: the card (reference thumbnail or a labelled
placeholder; its job and who started it are on the example's view, issue 32's lean cards), the plain side-by-side
page (previous / next in the gallery's order, 404 for another preset's example, what made it or "not recorded",
everything escaped) and its fragment for the overlay."""

from __future__ import annotations

import html
import re

from tests.conftest import create_preset
from tests.factories import examples, job
from tests.helpers import cache_reference, count_queries

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def add_job(app, preset_id: str, created_by: str | None = "curator@example.com") -> str:
    return job(app, preset_id, created_by=created_by)


def view_url(preset_id: str, example_id: str) -> str:
    return f"/admin/presets/{preset_id}/examples/{example_id}"


def links(page: str) -> dict:
    found = dict(re.findall(r'rel="(prev|next)" href="([^"]+)"', page))
    return {key: html.unescape(value) for key, value in found.items()}


def test_cards_show_the_reference_thumbnail_or_a_labelled_placeholder_and_the_view_job_and_who(admin_client):
    app = admin_client.application
    preset = create_preset(admin_client)
    job_id = add_job(app, preset["id"])
    cached, missing = examples(app, preset["id"], ["male_01", "female_02"], job_id=job_id)
    cache_reference(app, "male_01")
    page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    card = page[page.index(f'id="example-{cached}"') :]
    card = card[: card.index("</li>")]
    assert '<img class="reference" src="/media/references/male_01-thumb.webp"' in card
    assert f'href="/admin/presets/{preset["id"]}/examples/{cached}"' in card
    assert "/admin/jobs/" not in card and "curator@example.com" not in card  # lean: on the example's view
    view = admin_client.get(view_url(preset["id"], cached)).get_data(as_text=True)
    assert f'href="/admin/jobs/{job_id}"' in view and 'data-field="started-by">curator@<wbr>example.com<' in view
    other = page[page.index(f'id="example-{missing}"') :]
    other = other[: other.index("</li>")]
    # offline (these tests' mode) a photo not cached is a labelled placeholder; online the card says "not cached"
    assert '<img class="reference" src="/admin/models/female_02/placeholder.png"' in other
    assert 'alt="Placeholder (photo not cached) for model female_02"' in other
    assert admin_client.get("/media/references/male_01-thumb.webp").data == b"thumb"
    assert app.test_client().get("/media/references/male_01-thumb.webp").status_code == 401  # signed-in only


def test_the_page_needs_no_query_per_card(admin_client):
    app = admin_client.application
    small, large = create_preset(admin_client, name="Small"), create_preset(admin_client, name="Large")
    examples(app, small["id"], ["male_01"], job_id=add_job(app, small["id"]))
    for n in range(6):
        examples(app, large["id"], [f"male_{n + 1:02d}"], job_id=add_job(app, large["id"], f"admin{n}@example.com"))
    with count_queries(app) as q_small:
        admin_client.get(f"/admin/presets/{small['id']}")
    with count_queries(app) as q_large:
        page = admin_client.get(f"/admin/presets/{large['id']}").get_data(as_text=True)
    assert len(q_small) == len(q_large)
    assert page.count('class="example"') == 6


def test_the_plain_page_walks_the_gallery_newest_first_with_previous_and_next(admin_client):
    app = admin_client.application
    preset = create_preset(admin_client)
    job_id = add_job(app, preset["id"])
    ids = examples(app, preset["id"], ["male_01", "male_02", "female_01", "female_02"], job_id=job_id)
    cache_reference(app, "male_02")
    url, seen = view_url(preset["id"], ids[0]), []
    while url:
        response = admin_client.get(url)
        assert response.status_code == 200 and response.mimetype == "text/html"
        page = response.get_data(as_text=True)
        seen.append(re.search(r'data-example-id="([0-9a-f]{32})"', page).group(1))
        assert f"<span>Example {len(seen)} of 4</span>" in page and "<!doctype html>" in page
        assert f'href="/admin/presets/{preset["id"]}#example-{seen[-1]}" data-example-close' in page
        step = links(page)
        if len(seen) > 1:
            assert step["prev"] == view_url(preset["id"], seen[-2])
        else:
            assert "prev" not in step and '<span class="btn" aria-disabled="true">← Previous</span>' in page
        url = step.get("next")
    assert seen == ids  # every example once, in the gallery's order
    assert '<span class="btn" aria-disabled="true">Next →</span>' in page

    second = admin_client.get(view_url(preset["id"], ids[1])).get_data(as_text=True)
    assert '<img class="reference" src="/media/references/male_02.jpg"' in second  # the full photo, large
    assert f'src="/media/examples/{preset["id"]}/{job_id}/male_02-0.png"' in second
    first = admin_client.get(view_url(preset["id"], ids[0])).get_data(as_text=True)
    assert '<img class="reference" src="/admin/models/male_01/placeholder.png"' in first  # offline: the placeholder


def test_what_made_the_example_is_shown_or_said_to_be_not_recorded(admin_client):
    app = admin_client.application
    preset = create_preset(admin_client)
    job_id = add_job(app, preset["id"], created_by="token deploy-bot")
    (old,) = examples(app, preset["id"], ["male_01"], job_id=job_id, prompt="Studio portrait, soft light")
    (new,) = examples(
        app,
        preset["id"],
        ["male_02"],
        job_id=job_id,
        prompt="Film noir portrait",
        model_version="google/nano-banana:abc123",
        settings={"aspect_ratio": "4:5", "output_format": "png", "seed": 7},
    )
    page = admin_client.get(view_url(preset["id"], old)).get_data(as_text=True)
    assert page.count("not recorded") == 2  # model version and settings of an example made before they were kept
    assert "Studio portrait, soft light" in page and "token deploy-bot" in page
    assert f'href="/admin/jobs/{job_id}"' in page
    page = admin_client.get(view_url(preset["id"], new)).get_data(as_text=True)
    assert "not recorded" not in page and "Film noir portrait" in page
    assert "<code>google/nano-banana:abc123</code>" in page
    assert "<code>aspect_ratio=4:5</code> <code>output_format=png</code> <code>seed=7</code>" in page


def test_prompt_settings_and_version_are_escaped(admin_client):
    app = admin_client.application
    preset = create_preset(admin_client)
    (example,) = examples(
        app,
        preset["id"],
        ["male_01"],
        job_id=add_job(app, preset["id"], created_by=HOSTILE),
        prompt=HOSTILE,
        model_version=HOSTILE,
        settings={"negative_prompt": HOSTILE, HOSTILE: 1, "nested": {"x": "</code><b>"}},
    )
    for headers in ({}, {"HX-Request": "true"}):
        page = admin_client.get(view_url(preset["id"], example), headers=headers).get_data(as_text=True)
        assert "<script>" not in page and "<img src=x" not in page and "<b>" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in page
    card_page = admin_client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert "<script>alert" not in card_page


def test_an_example_of_another_preset_or_a_deleted_one_is_a_404(admin_client):
    app = admin_client.application
    mine, other = create_preset(admin_client, name="Mine"), create_preset(admin_client, name="Other")
    (theirs,) = examples(app, other["id"], ["male_01"], job_id=add_job(app, other["id"]))
    response = admin_client.get(view_url(mine["id"], theirs))
    assert response.status_code == 404 and "Not found" in response.get_data(as_text=True)
    assert admin_client.get(view_url(mine["id"], "0" * 32)).status_code == 404
    assert admin_client.get(view_url("0" * 32, theirs)).status_code == 404
    assert admin_client.get(view_url(other["id"], theirs)).status_code == 200
    assert admin_client.application.test_client().get(view_url(other["id"], theirs)).status_code in (302, 303, 401)


def test_the_overlay_gets_the_fragment_and_an_example_whose_job_was_pruned_still_shows(admin_client):
    app = admin_client.application
    preset = create_preset(admin_client)
    (example,) = examples(app, preset["id"], ["female_03"])
    response = admin_client.get(view_url(preset["id"], example), headers={"HX-Request": "true"})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment and "data-example-view" in fragment
    assert "pruned" in fragment and "unknown" in fragment
    assert "HX-Request" in response.headers.get("Vary", "")  # a cache never answers the page with the fragment
