"""Spend (issue 18) on the pages: the jobs list, the job page, the preset page and its generate form;
and the presets lists (API and page) in a fixed number of queries however many presets there are."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from app.spend.ledger import money, spend_text
from tests.conftest import auth_headers, create_preset, post_generate
from tests.helpers import count_queries, signed_in


@pytest.mark.fast
@pytest.mark.parametrize(
    "amount, text",
    [("0.78", "$0.78"), ("0.22", "$0.22"), ("1234.5", "$1,234.50"), ("0.039", "$0.039"), ("0.0093", "$0.0093")]
    + [("0.000675", "$0.0007"), ("0", "$0.00"), ("2", "$2.00"), ("1.2345", "$1.23")],
)
def test_money_is_written_one_way(amount, text):
    assert money(Decimal(amount)) == text == money(amount)


@pytest.mark.fast
def test_a_jobs_spend_says_offline_or_nothing_yet():
    assert spend_text(Decimal("0.78")) == "$0.78"
    assert spend_text(None) == "—"
    assert spend_text(Decimal("0"), offline=True) == spend_text(None, offline=True) == "$0.00 (offline)"


def cells(html: str, css_class: str) -> list[str]:
    found = re.findall(rf'class="[^"]*{css_class}[^"]*">(.*?)</', html)
    return [" ".join(re.sub(r"<[^>]+>", "", c).split()) for c in found]


def test_each_row_of_the_jobs_list_shows_the_jobs_spend(make_app, immediate_huey, replicate_server):
    online = make_app(replicate=replicate_server)
    offline = make_app()  # the same database, generating placeholders
    client = signed_in(online)
    paid = create_preset(client)
    post_generate(client, paid["id"])
    placeholders = create_preset(offline.test_client(), name="Film Noir")
    post_generate(offline.test_client(), placeholders["id"])
    online.extensions["pixelglow"].enqueue_job = lambda job_id: None
    post_generate(client, create_preset(client, name="Queued")["id"])  # nothing has ended yet
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert sorted(cells(page, "job-spend")) == sorted(["$0.78", "$0.00 (offline)", "—"])


def test_the_job_page_shows_the_jobs_spend_and_each_items_cost(make_app, immediate_huey, replicate_server):
    app = make_app(replicate=replicate_server)
    client = signed_in(app)
    preset = create_preset(client)
    job_id = post_generate(client, preset["id"]).get_json()["jobId"]
    page = client.get(f"/admin/jobs/{job_id}").get_data(as_text=True)
    assert cells(page, "job-spend") == ["$0.78"]
    assert cells(page, "item-cost") == ["$0.039"] * 20


def test_the_preset_page_shows_its_spend_the_estimate_and_whats_left(make_app, immediate_huey, replicate_server):
    app = make_app(replicate=replicate_server, SPEND_LIMIT_PER_MONTH_USD="1.00")
    client = signed_in(app)
    preset = create_preset(client)
    before = client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert cells(before, "preset-spend") == ["$0.00 on all its jobs"]
    assert "up to <span data-cost>$0.78</span>" in before and "$0.039 per image" in before
    assert "$1.00 left of this month's $1.00 limit" in before
    assert re.search(r"data-over-budget\s+hidden", before), "the run fits: no warning"
    post_generate(client, preset["id"])
    after = client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert cells(after, "preset-spend") == ["$0.78 on all its jobs"]
    assert "$0.22 left of this month's $1.00 limit" in after and 'data-left="0.22"' in after
    assert not re.search(r"data-over-budget\s+hidden", after), "the next 20 images ($0.78) would pass the limit"


def test_the_generate_form_estimates_a_time_billed_model_by_its_timeout(make_app, replicate_server):
    app = make_app(replicate=replicate_server)
    client = signed_in(app)
    preset = create_preset(client, provider="STABLE_DIFFUSION")
    page = client.get(f"/admin/presets/{preset['id']}").get_data(as_text=True)
    assert "up to <span data-cost>$2.70</span>" in page  # 20 x 600 s x $0.000225
    assert "up to $0.135 per image: 600 s at $0.000225 a second" in page
    assert "budget-left" not in page, "no limit, nothing to say about it"


def test_offline_the_generate_form_says_nothing_is_billed(make_app):
    client = signed_in(make_app())
    page = client.get(f"/admin/presets/{create_preset(client)['id']}").get_data(as_text=True)
    assert "up to <span data-cost>$0.00</span>" in page and "offline placeholders: nothing is billed" in page


# -- no query per preset -----------------------------------------------------------------------------------
def add_presets(client, first: int, last: int) -> None:
    for n in range(first, last):
        create_preset(client, name=f"Preset {n:02d}")


def test_the_presets_api_list_takes_as_many_queries_for_30_presets_as_for_3(make_app, immediate_huey, replicate_server):
    app = make_app(replicate=replicate_server)
    client = app.test_client()
    add_presets(client, 0, 3)
    preset = client.get("/api/admin/presets", headers=auth_headers()).get_json()["presets"][0]
    post_generate(client, preset["id"])
    with count_queries(app) as three:
        listed = client.get("/api/admin/presets", headers=auth_headers()).get_json()["presets"]
    assert len(listed) == 3
    add_presets(client, 3, 30)
    with count_queries(app) as thirty:
        listed = client.get("/api/admin/presets", headers=auth_headers()).get_json()["presets"]
    assert len(listed) == 30
    assert len(three) == len(thirty) <= 5, thirty
    shown = {p["id"]: p for p in listed}
    assert (shown[preset["id"]]["spendUsd"], shown[preset["id"]]["examplesCount"]) == ("0.78", 20)
    assert shown[preset["id"]]["usage"] == {"used": 20, "reserved": 0, "total": 72}
    other = next(p for p in listed if p["id"] != preset["id"])
    assert (other["spendUsd"], other["examplesCount"], other["usage"]["used"]) == ("0", 0, 0)
    one = client.get(f"/api/admin/presets/{preset['id']}", headers=auth_headers()).get_json()
    assert (one["spendUsd"], one["gallery"]["total"], one["usage"]["used"]) == ("0.78", 20, 20)


def test_the_presets_page_takes_as_many_queries_for_30_presets_as_for_3(make_app):
    app = make_app()
    client = signed_in(app)
    add_presets(client, 0, 3)
    with count_queries(app) as three:
        assert client.get("/admin/presets").status_code == 200
    add_presets(client, 3, 30)
    with count_queries(app) as thirty:
        page = client.get("/admin/presets").get_data(as_text=True)
    assert page.count('data-label="Name"') == 30
    assert len(three) == len(thirty), thirty
