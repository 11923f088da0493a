"""Issue 34 with Flask's test client: the large view's review mode without JavaScript. Every button is a form;
after a verdict the server redirects to the next unreviewed example (or the next in order, when asked), the
progress line counts, the end is a summary; the shortcuts toggle is kept per user; release, delete and
regenerate act from the view."""

from __future__ import annotations

import re

from app.accounts.users import User
from app.core.database import db
from tests.conftest import create_preset
from tests.review_helpers import PLAN, STATE_OF_KEY, add_unreviewed, api_states


def shown(page: str) -> str:
    return re.search(r'data-example-id="([0-9a-f]{32})"', page).group(1)


def post(client, url: str, **form):
    return client.post(url, data={"csrf_token": client.csrf, **form})


def verdict_url(preset_id: str, example_id: str) -> str:
    return f"/admin/presets/{preset_id}/review/{example_id}/verdict"


def test_twenty_verdicts_through_the_plain_forms_each_go_to_the_next_unreviewed_then_the_summary(admin_client):
    app = admin_client.application
    preset = create_preset(admin_client)
    ids = add_unreviewed(app, preset["id"])
    start = admin_client.get(f"/admin/presets/{preset['id']}/review")
    assert start.status_code == 303 and start.location.endswith(f"/examples/{ids[0]}")
    url, judged = start.location, []
    for n, key in enumerate(PLAN):
        page = admin_client.get(url).get_data(as_text=True)
        example_id = shown(page)
        assert f"{n} of 20 reviewed in this gallery" in page
        assert f'action="{verdict_url(preset["id"], example_id)}"' in page
        for label in ("Approve", "Feature", "Reject", "Reset"):
            assert f">{label} <kbd data-keys-hint hidden>" in page  # each verdict button, its key (shown with JS)
        response = post(admin_client, verdict_url(preset["id"], example_id), state=STATE_OF_KEY[key])
        assert response.status_code == 303
        judged.append(example_id)
        url = response.location
    assert judged == ids  # the next unreviewed each time: the gallery's order, none twice, none skipped
    assert url.endswith(f"/admin/presets/{preset['id']}/review")
    summary = admin_client.get(url).get_data(as_text=True)
    assert "20 of 20 reviewed in this gallery" in summary
    counts = {state: PLAN.count(key) for key, state in STATE_OF_KEY.items()}
    for state in ("featured", "approved", "rejected"):
        assert f'data-count="{state}">{counts[state]}</strong>' in summary
    assert f'href="/admin/presets/{preset["id"]}" data-example-close>Back to the gallery' in summary
    assert api_states(admin_client, preset["id"]) == {i: STATE_OF_KEY[k] for i, k in zip(ids, PLAN, strict=True)}


def test_after_a_verdict_the_next_unreviewed_skips_judged_ones_and_next_in_order_does_not(admin_client):
    app = admin_client.application
    preset = create_preset(admin_client)
    ids = add_unreviewed(app, preset["id"], 5)
    post(admin_client, verdict_url(preset["id"], ids[2]), state="approved")  # judged out of turn
    to_next = post(admin_client, verdict_url(preset["id"], ids[1]), state="featured")
    assert to_next.location.endswith(f"/examples/{ids[3]}")  # ids[2] has its verdict: skipped
    last = post(admin_client, verdict_url(preset["id"], ids[4]), state="rejected")
    assert last.location.endswith(f"/examples/{ids[0]}")  # after the last, from the start
    in_order = post(admin_client, verdict_url(preset["id"], ids[0]), state="approved", then="order")
    page = admin_client.get(in_order.location).get_data(as_text=True)
    assert shown(page) == ids[3]  # ids[0]'s next in the gallery's order when it was judged
    assert 'value="order" checked' in page  # the choice is kept for the next verdicts
    # the gallery's order now: featured ids[1]; approved ids[0], ids[2] (newest first); unreviewed ids[3]
    again = post(admin_client, verdict_url(preset["id"], ids[1]), state="featured", then="order")
    assert again.location.endswith(f"/examples/{ids[0]}")  # the next in order, though it has its verdict
    unreviewed = post(admin_client, verdict_url(preset["id"], ids[1]), state="featured")
    assert unreviewed.location.endswith(f"/examples/{ids[3]}")  # the box unticked: the next unreviewed again


def test_a_wrong_verdict_or_another_presets_example_changes_nothing_and_says_why(admin_client):
    app = admin_client.application
    preset, other = create_preset(admin_client), create_preset(admin_client, name="Other")
    ids = add_unreviewed(app, preset["id"], 2)
    bad = post(admin_client, verdict_url(preset["id"], ids[0]), state="gorgeous")
    assert bad.status_code == 303 and bad.location.endswith(f"/examples/{ids[0]}")
    assert "state must be one of" in admin_client.get(bad.location).get_data(as_text=True)
    elsewhere = post(admin_client, verdict_url(other["id"], ids[0]), state="approved")
    assert elsewhere.status_code in (303, 404)
    assert set(api_states(admin_client, preset["id"]).values()) == {"unreviewed"}
    assert admin_client.post(verdict_url(preset["id"], ids[0]), data={"state": "approved"}).status_code == 400  # CSRF


def test_the_shortcuts_toggle_is_kept_per_user_and_the_buttons_work_without_them(admin_client):
    app = admin_client.application
    preset = create_preset(admin_client)
    ids = add_unreviewed(app, preset["id"], 2)
    view = f"/admin/presets/{preset['id']}/examples/{ids[0]}"
    on = admin_client.get(view).get_data(as_text=True)
    assert 'data-keys="on"' in on and 'aria-keyshortcuts="A"' in on and "Turn single-key shortcuts off" in on
    off = post(admin_client, "/admin/review-keys", keys="off", next=view)
    assert off.status_code == 303 and off.location.endswith(view)
    with app.app_context():
        assert [u.review_keys for u in db.session.query(User)] == [False]
    page = admin_client.get(view).get_data(as_text=True)
    assert 'data-keys="off"' in page and "aria-keyshortcuts" not in page and "<kbd>A</kbd>" not in page
    assert "Single-key shortcuts are off" in page and "Turn single-key shortcuts on" in page
    judged = post(admin_client, verdict_url(preset["id"], ids[0]), state="approved")
    assert judged.location.endswith(f"/examples/{ids[1]}")
    assert api_states(admin_client, preset["id"])[ids[0]] == "approved"
    assert post(admin_client, "/admin/review-keys", keys="maybe").status_code == 400
    assert post(admin_client, "/admin/review-keys", keys="on", next="https://evil.example/").location.endswith(
        "/admin/presets"
    )


def test_release_and_delete_from_the_view(admin_client):
    app = admin_client.application
    preset = create_preset(admin_client)
    ids = add_unreviewed(app, preset["id"], 3)
    base = f"/admin/presets/{preset['id']}/review"
    view = admin_client.get(f"/admin/presets/{preset['id']}/examples/{ids[0]}").get_data(as_text=True)
    model = re.search(r">Release model (\S+)</button>", view).group(1)
    question = f"Release model {model} so the next jobs can select it again? Its examples stay in the gallery."
    assert re.search(rf'action="{base}/{ids[0]}/release"\s+data-confirm="{re.escape(question)}"', view)  # asked first
    refused = post(admin_client, f"{base}/{ids[0]}/release")
    assert refused.location.endswith(f"/examples/{ids[0]}")  # not used by the preset: said, nothing else
    assert "already free" in admin_client.get(refused.location).get_data(as_text=True)
    gone = post(admin_client, f"{base}/{ids[1]}/delete")
    assert gone.status_code == 303 and gone.location.endswith(f"/examples/{ids[2]}")
    assert "deleted" in admin_client.get(gone.location).get_data(as_text=True)
    assert set(api_states(admin_client, preset["id"])) == {ids[0], ids[2]}
    assert admin_client.get(f"/admin/presets/{preset['id']}/examples/{ids[1]}").status_code == 404
    again = post(admin_client, f"{base}/{ids[1]}/delete")
    assert again.status_code == 303 and again.location.endswith(base)  # already gone: the review goes on
