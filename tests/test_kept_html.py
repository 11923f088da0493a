"""Page parts rendered once and kept (app/web/admin/kept_html.py: gallery cards, the model pool): each request's
forms carry its own session's CSRF token, a changed part is rendered anew, and the kept markup is what rendering
gives."""

from __future__ import annotations

from app.web.admin.kept_html import EXTENSION, TOKEN_PLACEHOLDER
from tests.conftest import create_preset, sign_in
from tests.factories import mark_used, seed
from tests.helpers import tokens_in


def card_of(html: str, example_id: str) -> str:
    start = html.index(f'<li class="example" id="example-{example_id}"')
    end = html.find('<li class="example"', start + 1)
    return html[start : end if end != -1 else html.index("</ul>", start)]


def test_two_sessions_get_the_same_card_each_with_its_own_working_token(admin_app, admin_client):
    preset_id = create_preset(admin_client)["id"]
    first, _second = seed(admin_app, preset_id, ["unreviewed", "unreviewed"])
    page = f"/admin/presets/{preset_id}"
    other = admin_app.test_client()
    sign_in(other)

    mine, theirs = (card_of(c.get(page).get_data(as_text=True), first) for c in (admin_client, other))
    assert TOKEN_PLACEHOLDER not in mine + theirs
    (my_token,), (their_token,) = tokens_in(mine), tokens_in(theirs)
    assert my_token != their_token
    assert mine.replace(my_token, "T") == theirs.replace(their_token, "T")  # one card, two tokens

    wrong = admin_client.post(f"{page}/examples/{first}/state", data={"csrf_token": their_token, "state": "approved"})
    assert wrong.status_code == 400
    right = admin_client.post(
        f"{page}/examples/{first}/state", data={"csrf_token": my_token, "state": "approved", "next": page}
    )
    assert right.status_code == 303


def test_a_changed_card_is_rendered_anew_and_an_unchanged_one_is_kept(admin_app, admin_client):
    preset_id = create_preset(admin_client)["id"]
    first, _middle, newest = seed(admin_app, preset_id, ["unreviewed"] * 3)  # shown newest first
    page = f"/admin/presets/{preset_id}"
    before = admin_client.get(page).get_data(as_text=True)
    store = admin_app.extensions[EXTENSION]
    hits, misses = store.hits, store.misses
    assert f'data-state="unreviewed" data-example-id="{first}"' in card_of(before, first)

    token = admin_client.csrf
    admin_client.post(f"{page}/examples/{first}/state", data={"csrf_token": token, "state": "featured", "next": page})
    after = admin_client.get(page).get_data(as_text=True)
    assert f'data-state="featured" data-example-id="{first}"' in card_of(after, first)
    assert ">Feature</button>" not in card_of(after, first)  # its buttons follow its new verdict
    assert store.hits > hits  # the newest card (unchanged, still first of its group) came from the cache
    assert store.misses > misses  # the featured card, and the one now last of the unreviewed, rendered anew
    assert newest in after


def test_the_kept_markup_is_what_rendering_the_card_gives(admin_app, admin_client):
    preset_id = create_preset(admin_client)["id"]
    (only,) = seed(admin_app, preset_id, ["approved"])
    page = f"/admin/presets/{preset_id}"
    admin_client.get(page)
    cached = card_of(admin_client.get(page).get_data(as_text=True), only)
    admin_app.jinja_env.auto_reload = True  # templates that reload: rendered every time, nothing kept
    try:
        fresh = card_of(admin_client.get(page).get_data(as_text=True), only)
    finally:
        admin_app.jinja_env.auto_reload = False
    (token_a,), (token_b,) = tokens_in(cached), tokens_in(fresh)
    assert cached.replace(token_a, "T") == fresh.replace(token_b, "T")


def test_the_pool_is_kept_until_a_model_changes_state_and_its_release_forms_work(admin_app, admin_client):
    preset_id = create_preset(admin_client)["id"]
    page = f"/admin/presets/{preset_id}"
    mark_used(admin_app, preset_id, ["male_01"])
    pool = pool_of(admin_client.get(page).get_data(as_text=True))
    assert 'data-pool-model="male_01"' in pool and "/models/male_01/release" in pool
    assert 'data-model-id="male_02" data-state="free"' in pool
    (token,) = tokens_in(pool)
    released = admin_client.post(f"{page}/models/male_01/release", data={"csrf_token": token})
    assert released.status_code in (200, 303)
    again = pool_of(admin_client.get(page).get_data(as_text=True))
    assert "/models/male_01/release" not in again and 'data-model-id="male_01" data-state="free"' in again


def pool_of(html: str) -> str:
    start = html.index('<section id="pool"')
    return html[start : html.index("</section>", start)]
