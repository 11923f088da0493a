"""Issue 15, curation: verdicts (one and bulk), the curated order, manual positions, paging and filters,
in the API and on the preset page (HTML through the Flask client)."""

from __future__ import annotations

import random
import re

import pytest

from app.accounts.audit import AuditEvent
from app.core.database import db
from app.models import GalleryExample, PresetModelUsage
from tests.conftest import auth_headers, create_preset
from tests.factories import job, mark_used, reserve_for_running_job, seed
from tests.helpers import curated, gallery


def walk(client, first_url) -> tuple[list[str], list[dict]]:
    """Follow `next` from the first page to the last; the ids in order and every page's body."""
    ids, pages, url = [], [], first_url
    while url:
        body = client.get(url, headers=auth_headers()).get_json()
        pages.append(body)
        ids += [item["id"] for item in body["items"]]
        url = body["next"]
        assert len(pages) < 200
    return ids, pages


def post_state(client, preset_id, body, example_id=None):
    path = f"/api/admin/presets/{preset_id}/gallery/" + (f"{example_id}/state" if example_id else "state")
    return client.post(path, json=body, headers=auth_headers())


def post_move(client, preset_id, example_id, body):
    return client.post(f"/api/admin/presets/{preset_id}/gallery/{example_id}/move", json=body, headers=auth_headers())


def states_of(app, ids) -> list[str]:
    with app.app_context():
        return [db.session.get(GalleryExample, i).state for i in ids]


@pytest.fixture
def api(make_app):
    app = make_app()
    client = app.test_client()
    preset = create_preset(client)
    return app, client, preset["id"]


# -- paging (acceptance 4) ----------------------------------------------------------------------------
MIXED = ["unreviewed"] * 70 + ["approved"] * 35 + ["featured"] * 17 + ["rejected"] * 30  # 152


def mixed_positions(rng: random.Random) -> list[int | None]:
    """Some examples placed by hand (positions with gaps and repeats), most not."""
    return [rng.choice([None, None, None, rng.randrange(0, 12)]) for _ in MIXED]


def test_paging_returns_every_example_once_in_the_curated_order(api):
    app, client, preset_id = api
    rng = random.Random(15)
    states = MIXED[:]
    rng.shuffle(states)
    seed(app, preset_id, states, positions=mixed_positions(rng), same_time_every=3)
    expected = curated(app, preset_id)
    assert len(expected) == 122  # the 30 rejected are hidden

    ids, pages = walk(client, f"/api/admin/presets/{preset_id}/gallery?perPage=50")
    assert ids == expected and len(set(ids)) == len(ids)
    assert [len(p["items"]) for p in pages] == [50, 50, 22]
    assert [p["page"] for p in pages] == [1, 2, 3] and {p["total"] for p in pages} == {122}
    assert {p["perPage"] for p in pages} == {50} and pages[-1]["next"] is None
    assert pages[0]["next"] == f"/api/admin/presets/{preset_id}/gallery?page=2&perPage=50"

    per_page = rng.randint(1, 100)
    ids, pages = walk(client, f"/api/admin/presets/{preset_id}/gallery?perPage={per_page}")
    assert ids == expected, f"perPage={per_page}"
    assert len(pages) == -(-122 // per_page)

    # the default is 50 per page; state=rejected pages through the rejected ones only, in their order
    assert len(gallery(client, preset_id)["items"]) == 50
    ids, _ = walk(client, f"/api/admin/presets/{preset_id}/gallery?state=rejected&perPage=7")
    assert ids == curated(app, preset_id, ("rejected",)) and len(ids) == 30

    # every item is the example JSON with its state and position
    item = gallery(client, preset_id, perPage=1)["items"][0]
    assert {"id", "modelId", "gender", "imageUrl", "jobId", "createdAt", "state", "position"} <= set(item)
    assert item["state"] == "featured"


def test_all_152_examples_once_across_pages_of_every_state(api):
    app, client, preset_id = api
    rng = random.Random(7)
    seed(app, preset_id, MIXED, positions=mixed_positions(rng), same_time_every=5)
    everything = []
    for state in ("featured", "approved", "unreviewed", "rejected"):
        ids, _ = walk(client, f"/api/admin/presets/{preset_id}/gallery?state={state}&perPage=50")
        assert ids == curated(app, preset_id, (state,))
        everything += ids
    assert len(everything) == len(set(everything)) == 152
    assert everything[: 17 + 35 + 70] == curated(app, preset_id)


def test_a_page_past_the_end_is_empty_and_filters_combine(api):
    app, client, preset_id = api
    seed(app, preset_id, ["unreviewed"] * 12)
    assert gallery(client, preset_id, page=9) == {"items": [], "page": 9, "perPage": 50, "total": 12, "next": None}
    women = gallery(client, preset_id, gender="female", perPage=4)
    assert women["total"] == 6 and {i["gender"] for i in women["items"]} == {"female"}
    assert women["next"] == f"/api/admin/presets/{preset_id}/gallery?page=2&perPage=4&gender=female"
    flux = gallery(client, preset_id, provider="FLUX_PRO")
    assert flux["total"] == 4 and {i["provider"] for i in flux["items"]} == {"FLUX_PRO"}
    assert gallery(client, preset_id, provider="FLUX_PRO", gender="male")["total"] == 2


def test_the_job_filter(api):
    app, client, preset_id = api
    job_id = job(app, preset_id)
    mine = seed(app, preset_id, ["unreviewed"] * 3, job_id=job_id)
    seed(app, preset_id, ["approved"] * 4)
    body = gallery(client, preset_id, job=job_id)
    assert body["total"] == 3 and sorted(i["id"] for i in body["items"]) == sorted(mine)
    assert gallery(client, preset_id, job="0" * 32)["total"] == 0


@pytest.mark.parametrize(
    "params, named",
    [
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "abc"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page": "99999999999999999999"}, "page"),
        ({"perPage": "0"}, "perPage"),
        ({"perPage": "101"}, "perPage"),
        ({"perPage": "ten"}, "perPage"),
        ({"perPage": "+5"}, "perPage"),
        ({"state": "good"}, "state"),
        ({"gender": "other"}, "gender"),
        ({"provider": "DALL_E"}, "provider"),
        ({"job": "no such job!"}, "job"),
    ],
)
def test_bad_paging_and_filter_values_get_400_with_a_message(api, params, named):
    _, client, preset_id = api
    response = client.get(f"/api/admin/presets/{preset_id}/gallery", query_string=params, headers=auth_headers())
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error.startswith(f"{named} must be"), error


def test_unknown_preset_gallery_is_404(api):
    _, client, _ = api
    response = client.get("/api/admin/presets/nope/gallery", headers=auth_headers())
    assert response.status_code == 404 and "No preset" in response.get_json()["error"]


def test_the_preset_json_carries_the_first_page_and_the_next_address(api):
    app, client, preset_id = api
    seed(app, preset_id, ["unreviewed"] * 60 + ["rejected"] * 3)
    preset = client.get(f"/api/admin/presets/{preset_id}", headers=auth_headers()).get_json()
    page = preset["gallery"]
    assert set(page) == {"items", "page", "perPage", "total", "next"}
    assert (page["page"], page["perPage"], page["total"], len(page["items"])) == (1, 50, 60, 50)
    assert [i["id"] for i in page["items"]] == curated(app, preset_id)[:50]
    assert page["next"] == f"/api/admin/presets/{preset_id}/gallery?page=2&perPage=50"
    assert len(client.get(page["next"], headers=auth_headers()).get_json()["items"]) == 10


# -- verdicts (acceptance 1) ----------------------------------------------------------------------------
def test_approve_feature_reject_and_reset_persist_and_change_order_and_content(api):
    app, client, preset_id = api
    a, b, c, d, e = seed(app, preset_id, ["unreviewed"] * 5)  # e is the newest
    assert [i["id"] for i in gallery(client, preset_id)["items"]] == [e, d, c, b, a]

    response = post_state(client, preset_id, {"state": "featured"}, a)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["item"]["id"] == a and body["item"]["state"] == "featured" and body["releasedModels"] == []
    assert body["message"] == "Example of male_01 featured."
    assert post_state(client, preset_id, {"state": "approved"}, b).status_code == 200
    assert post_state(client, preset_id, {"state": "approved"}, c).status_code == 200
    assert post_state(client, preset_id, {"state": "rejected"}, d).status_code == 200

    shown = gallery(client, preset_id)
    assert [(i["id"], i["state"]) for i in shown["items"]] == [
        (a, "featured"),
        (c, "approved"),
        (b, "approved"),
        (e, "unreviewed"),
    ]
    assert shown["total"] == 4
    assert [i["id"] for i in gallery(client, preset_id, state="rejected")["items"]] == [d]
    assert [i["id"] for i in gallery(client, preset_id, state="approved")["items"]] == [c, b]

    assert post_state(client, preset_id, {"state": "unreviewed"}, d).status_code == 200
    assert [i["id"] for i in gallery(client, preset_id)["items"]] == [a, c, b, e, d]
    assert gallery(client, preset_id, state="rejected")["total"] == 0
    with app.app_context():
        actions = [ev.action for ev in db.session.query(AuditEvent).order_by(AuditEvent.id)]
    assert actions[-5:] == ["example.feature", "example.approve", "example.approve", "example.reject", "example.reset"]


def test_bulk_applies_to_exactly_the_selection(api):
    app, client, preset_id = api
    ids = seed(app, preset_id, ["unreviewed"] * 10)
    chosen = [ids[1], ids[4], ids[8]]
    response = post_state(client, preset_id, {"ids": chosen, "state": "approved"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["count"] == 3 and [i["id"] for i in body["items"]] == chosen
    assert body["message"] == "3 examples approved."
    assert [s == "approved" for s in states_of(app, ids)] == [i in chosen for i in ids]
    assert [i["id"] for i in gallery(client, preset_id, state="approved")["items"]] == [ids[8], ids[4], ids[1]]

    rejected = post_state(client, preset_id, {"ids": [ids[0], ids[4]], "state": "rejected"})
    assert rejected.status_code == 200
    assert states_of(app, ids).count("rejected") == 2 and states_of(app, ids).count("approved") == 2
    assert sorted(i["id"] for i in gallery(client, preset_id, state="rejected")["items"]) == sorted([ids[0], ids[4]])
    assert gallery(client, preset_id)["total"] == 8


def test_a_selection_with_a_bad_id_changes_nothing_and_names_each_bad_id(api):
    app, client, preset_id = api
    ids = seed(app, preset_id, ["unreviewed"] * 4)
    other = create_preset(client, name="Another")["id"]
    (foreign,) = seed(app, other, ["unreviewed"])
    response = post_state(client, preset_id, {"ids": [ids[0], foreign, "f" * 32, ids[2]], "state": "featured"})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert foreign in error and "f" * 32 in error and ids[0] not in error and "Nothing was changed" in error
    assert states_of(app, ids + [foreign]) == ["unreviewed"] * 5
    with app.app_context():
        assert not db.session.query(AuditEvent).filter(AuditEvent.action.like("example.%")).count()


@pytest.mark.parametrize(
    "body, says",
    [
        ({"ids": [], "state": "approved"}, "non-empty list"),
        ({"ids": "abc", "state": "approved"}, "non-empty list"),
        ({"state": "approved"}, "non-empty list"),
        ({"ids": ["x1", "x1"], "state": "approved"}, "more than once: x1"),
        ({"ids": ["x1", 7, "a b"], "state": "approved"}, "not example ids: 7, 'a b'"),
        ({"ids": ["x1"] * 501, "state": "approved"}, "at most 500"),
        ({"ids": ["x1"], "state": "great"}, "state must be one of unreviewed, approved, featured, rejected"),
        ({"ids": ["x1"]}, "state must be one of"),
        ({"ids": ["x1"], "state": "approved", "releaseModel": True}, "releaseModel goes with state 'rejected'"),
        ({"ids": ["x1"], "state": "rejected", "releaseModel": "yes"}, "releaseModel must be true or false"),
        ({"ids": ["x1"], "state": "rejected", "why": "ugly"}, "Unknown field(s): why"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_state_requests_get_400_with_a_message(api, body, says):
    _, client, preset_id = api
    response = post_state(client, preset_id, body)
    assert response.status_code == 400
    assert says in response.get_json()["error"]


def test_one_example_unknown_or_of_another_preset_is_404(api):
    app, client, preset_id = api
    other = create_preset(client, name="Another")["id"]
    (foreign,) = seed(app, other, ["unreviewed"])
    for example_id in (foreign, "nope"):
        response = post_state(client, preset_id, {"state": "approved"}, example_id)
        assert response.status_code == 404 and "No example" in response.get_json()["error"]
    assert post_state(client, "nope", {"ids": [foreign], "state": "approved"}).status_code == 404
    assert states_of(app, [foreign]) == ["unreviewed"]


def test_rejecting_can_release_the_model_and_is_refused_while_a_running_job_holds_it(api):
    app, client, preset_id = api
    first, second, third = seed(app, preset_id, ["unreviewed"] * 3)  # male_01, female_01, male_02
    mark_used(app, preset_id, ["male_01", "female_01"])
    job_id = reserve_for_running_job(app, preset_id, ["male_02"])

    kept = post_state(client, preset_id, {"state": "rejected"}, second)  # not asked: the model stays used
    assert kept.status_code == 200 and kept.get_json()["releasedModels"] == []
    released = post_state(client, preset_id, {"state": "rejected", "releaseModel": True}, first)
    assert released.status_code == 200, released.get_json()
    assert released.get_json()["releasedModels"] == ["male_01"]
    assert "Released male_01" in released.get_json()["message"]

    held = post_state(client, preset_id, {"ids": [second, third], "state": "rejected", "releaseModel": True})
    assert held.status_code == 409 and job_id in held.get_json()["error"] and "male_02" in held.get_json()["error"]
    assert states_of(app, [first, second, third]) == ["rejected", "rejected", "unreviewed"]
    with app.app_context():
        usage = {u.model_id: u.state for u in db.session.query(PresetModelUsage).filter_by(preset_id=preset_id)}
        event = db.session.query(AuditEvent).filter_by(action="example.reject").order_by(AuditEvent.id.desc()).first()
    assert usage == {"female_01": "used", "male_02": "reserved"}
    assert "released male_01" in event.detail and event.actor == "token ADMIN_API_TOKEN"


# -- manual order (acceptance 1) ---------------------------------------------------------------------
def test_reorder_within_a_group_persists_and_changes_the_order(api):
    app, client, preset_id = api
    a, b, c, d, e = seed(app, preset_id, ["approved"] * 5)  # shown e, d, c, b, a
    (f,) = seed(app, preset_id, ["featured"])

    moved = post_move(client, preset_id, a, {"before": e})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["place"] == 0 and moved.get_json()["groupSize"] == 5
    assert moved.get_json()["message"] == "Example of male_01 moved to place 1 of 5 approved examples."
    assert [i["id"] for i in gallery(client, preset_id)["items"]] == [f, a, e, d, c, b]

    assert post_move(client, preset_id, c, {"direction": "earlier"}).status_code == 200
    assert post_move(client, preset_id, a, {"after": b}).status_code == 200
    assert post_move(client, preset_id, e, {"direction": "later"}).status_code == 200
    order = [i["id"] for i in gallery(client, preset_id)["items"]]
    assert order == [f, c, e, d, b, a]
    assert [i["position"] for i in gallery(client, preset_id)["items"]] == [None, 0, 1, 2, 3, 4]

    # a new example of the group comes after the placed ones; a new verdict puts one after them too
    (g,) = seed(app, preset_id, ["approved"])
    post_state(client, preset_id, {"state": "featured"}, d)
    assert [i["id"] for i in gallery(client, preset_id)["items"]] == [d, f, c, e, b, a, g]  # d is newer than f
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="example.move").count() == 4


def test_a_move_out_of_its_group_or_past_its_end_is_refused(api):
    app, client, preset_id = api
    a, b = seed(app, preset_id, ["approved"] * 2)  # shown b, a
    (f,) = seed(app, preset_id, ["featured"])
    across = post_move(client, preset_id, a, {"before": f})
    assert across.status_code == 400 and "moves within its own group" in across.get_json()["error"]
    first = post_move(client, preset_id, b, {"direction": "earlier"})
    assert first.status_code == 409 and "already the first approved" in first.get_json()["error"]
    last = post_move(client, preset_id, a, {"direction": "later"})
    assert last.status_code == 409 and "already the last approved" in last.get_json()["error"]
    assert post_move(client, preset_id, a, {"before": a}).status_code == 400
    assert post_move(client, preset_id, a, {"before": "f" * 32}).status_code == 400
    assert post_move(client, preset_id, "f" * 32, {"before": a}).status_code == 404
    for body in ({}, {"direction": "up"}, {"before": a, "after": b}, {"before": 3}, {"to": 1}):
        response = post_move(client, preset_id, b, body)
        assert response.status_code == 400, body
        assert response.get_json()["error"]
    assert [i["id"] for i in gallery(client, preset_id)["items"]] == [f, b, a]
    with app.app_context():
        assert not db.session.query(GalleryExample).filter(GalleryExample.position.is_not(None)).count()


def test_many_random_moves_keep_the_order_the_moves_describe(api):
    """A model of the group in Python, moved the same way: the stored order is always exactly it."""
    app, client, preset_id = api
    ids = seed(app, preset_id, ["unreviewed"] * 30)
    model = list(reversed(ids))
    rng = random.Random(42)
    for _ in range(40):
        example = rng.choice(model)
        kind = rng.choice(["before", "after", "direction"])
        if kind == "direction":
            index = model.index(example)
            direction = "earlier" if index and (index == len(model) - 1 or rng.random() < 0.5) else "later"
            body = {"direction": direction}
            model.pop(index)
            model.insert(index - 1 if direction == "earlier" else index + 1, example)
        else:
            other = rng.choice([m for m in model if m != example])
            body = {kind: other}
            model.remove(example)
            model.insert(model.index(other) + (kind == "after"), example)
        assert post_move(client, preset_id, example, body).status_code == 200
        assert [i["id"] for i in gallery(client, preset_id)["items"]] == model


# -- the preset page (HTML) ---------------------------------------------------------------------------
def card_ids(html: str) -> list[str]:
    return re.findall(r'<li class="example" id="example-([0-9a-f]+)"', html)


def test_the_page_shows_the_curated_order_states_and_actions(admin_app, admin_client):
    preset_id = create_preset(admin_client)["id"]
    a, b, c, d = seed(admin_app, preset_id, ["unreviewed", "approved", "featured", "rejected"])
    html = admin_client.get(f"/admin/presets/{preset_id}").get_data(as_text=True)
    assert card_ids(html) == [c, b, a]
    assert 'data-state="featured"' in html and 'data-state="approved"' in html
    assert f'name="ids" value="{a}"' in html
    for label in ("Approve", "Feature", "Reject", "Reset"):
        assert f">{label}</button>" in html
    assert 'id="bulk-form"' in html and 'name="release"' in html

    rejected = admin_client.get(f"/admin/presets/{preset_id}?state=rejected").get_data(as_text=True)
    assert card_ids(rejected) == [d]


def test_page_forms_set_states_in_bulk_and_move_without_javascript(admin_app, admin_client):
    preset_id = create_preset(admin_client)["id"]
    ids = seed(admin_app, preset_id, ["unreviewed"] * 6)  # shown newest first: ids[5] … ids[0]
    page = f"/admin/presets/{preset_id}"
    token = admin_client.csrf

    one = admin_client.post(
        f"{page}/gallery", data={"csrf_token": token, "verdict": f"{ids[0]}:featured", "next": page}
    )
    assert one.status_code == 303 and one.headers["Location"].startswith(page)
    bulk = admin_client.post(
        f"{page}/gallery",
        data={"csrf_token": token, "state": "approved", "ids": [ids[2], ids[3]], "next": page},
    )
    assert bulk.status_code == 303
    assert states_of(admin_app, ids) == ["featured", "unreviewed", "approved", "approved", "unreviewed", "unreviewed"]
    html = admin_client.get(page).get_data(as_text=True)
    assert card_ids(html) == [ids[0], ids[3], ids[2], ids[5], ids[4], ids[1]]
    assert "2 examples approved." in html

    moved = admin_client.post(f"{page}/gallery", data={"csrf_token": token, "move": f"{ids[2]}:earlier", "next": page})
    assert moved.status_code == 303
    assert card_ids(admin_client.get(page).get_data(as_text=True))[:3] == [ids[0], ids[2], ids[3]]

    nothing = admin_client.post(f"{page}/gallery", data={"csrf_token": token, "state": "approved"})
    assert nothing.status_code == 303
    assert "Tick at least one example" in admin_client.get(page).get_data(as_text=True)

    rejected = admin_client.post(
        f"{page}/gallery",
        data={"csrf_token": token, "state": "rejected", "ids": [ids[4]], "release": "1", "next": page},
    )
    assert rejected.status_code == 303 and states_of(admin_app, [ids[4]]) == ["rejected"]
    malformed = admin_client.post(f"{page}/gallery", data={"csrf_token": token, "verdict": "approved", "next": page})
    assert malformed.status_code == 303 and states_of(admin_app, [ids[1]]) == ["unreviewed"]
    assert "verdict must be &#39;&lt;example id&gt;:&lt;verdict&gt;&#39;" in admin_client.get(page).get_data(
        as_text=True
    )
    no_token = admin_client.post(f"{page}/gallery", data={"verdict": f"{ids[1]}:approved"})
    assert no_token.status_code == 400 and states_of(admin_app, [ids[1]]) == ["unreviewed"]


def test_the_page_pages_by_50_with_next_and_previous_links(admin_app, admin_client):
    preset_id = create_preset(admin_client)["id"]
    rng = random.Random(3)
    seed(admin_app, preset_id, MIXED, positions=mixed_positions(rng), same_time_every=2)
    expected = curated(admin_app, preset_id)
    seen, url = [], f"/admin/presets/{preset_id}"
    while url:
        html = admin_client.get(url).get_data(as_text=True)
        seen += card_ids(html)
        found = re.search(r'<a class="btn" rel="next" href="([^"]+)"', html)
        url = found.group(1).replace("&amp;", "&").split("#")[0] if found else None
    assert seen == expected
    second = admin_client.get(f"/admin/presets/{preset_id}?page=2").get_data(as_text=True)
    assert 'rel="prev"' in second and "51–100 of 122" in second
    filtered = admin_client.get(f"/admin/presets/{preset_id}?state=rejected&gender=male").get_data(as_text=True)
    assert len(card_ids(filtered)) == 15


def test_bad_filters_on_the_page_say_what_is_wrong(admin_app, admin_client):
    preset_id = create_preset(admin_client)["id"]
    seed(admin_app, preset_id, ["unreviewed"] * 3)
    response = admin_client.get(f"/admin/presets/{preset_id}?page=zero&state=great")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "page must be a whole number" in html and len(card_ids(html)) == 3


def test_a_running_jobs_new_cards_land_where_unplaced_unreviewed_ones_begin(admin_app, admin_client):
    preset_id = create_preset(admin_client)["id"]
    states = ["featured", "featured", "approved", "unreviewed", "unreviewed", "unreviewed", "rejected"]
    ids = seed(admin_app, preset_id, states, positions=[None, None, None, 0, None, None, None])
    html = admin_client.get(f"/admin/presets/{preset_id}").get_data(as_text=True)
    gallery = html.split('<ul id="gallery"')[1].split("</ul>")[0]
    shown = re.findall(r'id="(example-[0-9a-f]+|gallery-new)"', gallery)
    # featured (newest first), approved, the placed unreviewed one, then the marker, then the other unreviewed
    assert shown == [f"example-{i}" for i in (ids[1], ids[0], ids[2], ids[3])] + ["gallery-new"] + [
        f"example-{i}" for i in (ids[5], ids[4])
    ]
    for elsewhere in ("state=approved", "gender=male", "perPage=2", "page=3&perPage=1"):
        html = admin_client.get(f"/admin/presets/{preset_id}?{elsewhere}").get_data(as_text=True)
        assert 'id="gallery-new"' not in html.split('<ul id="gallery"')[1].split("</ul>")[0], elsewhere
        assert '<ul class="gallery-elsewhere" hidden><li id="gallery-new"></li></ul>' in html, elsewhere
    on_its_page = admin_client.get(f"/admin/presets/{preset_id}?page=2&perPage=3").get_data(as_text=True)
    assert re.findall(r'id="(example-[0-9a-f]+|gallery-new)"', on_its_page.split('<ul id="gallery"')[1])[:2] == [
        f"example-{ids[3]}",
        "gallery-new",
    ]


def test_a_card_is_lean_one_form_one_token_and_buttons_say_what_and_which(admin_app, admin_client):
    """Issue 32: the cards have no form of their own (the gallery's one form holds the token), no rare action
    (regenerate, release, delete: on the example view), and each button names its example."""
    preset_id = create_preset(admin_client)["id"]
    (a,) = seed(admin_app, preset_id, ["unreviewed"])
    html = admin_client.get(f"/admin/presets/{preset_id}").get_data(as_text=True)
    gallery = html[html.index('id="bulk-form"') : html.index("</form>", html.index('id="bulk-form"'))]
    assert gallery.count("csrf_token") == 1 and "<form" not in gallery
    card = gallery[gallery.index(f'id="example-{a}"') :]
    assert "regenerate" not in card and "/release" not in card and "/delete" not in card
    with admin_app.app_context():
        model = db.session.get(GalleryExample, a).model_id
    for value, label in (
        ("approved", "Approve"),
        ("featured", "Feature"),
        ("rejected", "Reject"),
        ("unreviewed", "Reset"),
    ):
        assert f'value="{a}:{value}"' in card
        assert f'>{label}<span class="visually-hidden"> {model}, example 1</span></button>' in card
    assert f'value="{a}:earlier" aria-label="Move {model}, example 1 earlier"' in card
    assert "formaction" not in card and "title=" not in card  # no URL per button, no prompt per card


def test_a_verdict_by_htmx_answers_the_card_alone_in_place_with_the_counts(admin_app, admin_client):
    preset_id = create_preset(admin_client)["id"]
    a, b = seed(admin_app, preset_id, ["unreviewed", "unreviewed"])
    page = f"/admin/presets/{preset_id}"
    headers = {"HX-Request": "true", "HX-Target": "gallery-section"}
    answer = admin_client.post(
        f"{page}/gallery",
        data={"csrf_token": admin_client.csrf, "verdict": f"{a}:approved", "next": page},
        headers=headers,
    )
    assert answer.status_code == 200
    assert answer.headers["HX-Retarget"] == f"#example-{a}" and answer.headers["HX-Reswap"] == "outerHTML"
    html = answer.get_data(as_text=True)
    assert html.count('class="example"') == 1 and f'id="example-{a}"' in html
    assert 'data-state="approved"' in html and f'value="{a}:approved" aria-pressed="true"' in html
    counts = html[html.index('id="gallery-counts"') :]
    assert 'hx-swap-oob="true"' in counts[:80]
    assert '<span data-count-state="approved">1</span>' in counts
    assert '<span data-count-state="unreviewed">1</span>' in counts
    assert "csrf_token" not in html  # the page's one token stays in the gallery's form
