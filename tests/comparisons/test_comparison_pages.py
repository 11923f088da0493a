"""Issue 37's pages in the Flask test client (PostgreSQL, offline placeholders, jobs run inline): the grid, the
blind review (a pair names no variant; a vote by form is counted and revealed), adopting by form, starting by form,
and the preset page's list, each refusal a message and never a 500."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.accounts.audit import AuditEvent
from app.core.database import db
from app.models import ComparisonVote, GalleryExample, Preset, PresetModelUsage
from tests.conftest import create_preset
from tests.helpers import count_queries, read_comparison, start_comparison

MODELS = ["male_01", "male_02", "female_01", "female_02"]
VARIANTS = [
    {"current": True},
    {"provider": "FLUX_KONTEXT", "settings": {"output_format": "png"}},
    {"provider": "NANO_BANANA", "settings": {"aspect_ratio": "1:1"}, "prompt": "Soft window light, plain backdrop"},
]


@pytest.fixture
def compared(admin_client, immediate_huey):
    """A signed-in admin, a preset and a finished comparison of 3 variants x 4 models (offline placeholders)."""
    preset = create_preset(admin_client, name="Film Noir", prompt="Film noir portrait, hard key light")
    started = start_comparison(admin_client, preset["id"], VARIANTS, MODELS)
    shown = read_comparison(admin_client, started["comparisonId"])
    assert shown["status"] == "finished" and len(shown["cells"]) == 12
    return admin_client, preset, shown


def page(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def form_post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": client.csrf, **data})


def test_the_grid_shows_every_cell_with_its_time_and_cost_the_totals_and_the_scores(compared):
    client, preset, shown = compared
    html = page(client, f"/admin/comparisons/{shown['id']}")
    assert html.count('class="grid-cell cell-succeeded"') == 12
    for cell in shown["cells"]:
        assert cell["thumbUrl"] in html or cell["imageUrl"] in html
        assert f'href="{cell["imageUrl"]}"' in html  # the thumbnail opens the full output
    assert html.count('<th scope="row" class="model-col">') == 4 + 1  # four models and the totals
    for variant in shown["variants"]:
        assert f"Variant {variant['label']}" in html and variant["providerName"] in html
    assert "the preset as it is" in html and "Soft window light, plain backdrop" in html
    for label in ("Success", "Median time", "p95 time", "Per image", "20-model job"):
        assert html.count(f"<dt>{label}</dt>") == 3
    assert "4 of 4 (100%)" in html
    assert "Scores" in html and "No vote yet" in html and "badge-finished" in html
    assert 'hx-trigger="every 2s"' not in html  # finished: no polling
    assert "Adopt variant B…" in html and 'name="cell_ids"' in html
    assert 'class="grid-scroll"' in html and 'class="model-col"' in html


def test_the_pages_need_a_sign_in_and_answer_404_for_unknown_ids(compared, admin_app):
    client, preset, shown = compared
    anonymous = admin_app.test_client()
    for path in (
        f"/admin/comparisons/{shown['id']}",
        f"/admin/comparisons/{shown['id']}/review",
        f"/admin/comparisons/{shown['id']}/live",
        f"/admin/presets/{preset['id']}/comparisons/new",
    ):
        response = anonymous.get(path)
        assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"], path
        assert client.get(path).status_code == 200, path
    unknown = "0" * 32
    for path in (f"/admin/comparisons/{unknown}", f"/admin/comparisons/{unknown}/review"):
        assert client.get(path).status_code == 404
    assert client.get(f"/admin/presets/{unknown}/comparisons/new").status_code == 404
    for path in (f"/admin/comparisons/{unknown}/adopt", f"/admin/comparisons/{unknown}/review"):
        assert (
            form_post(client, path, {"variant_id": "x", "left": "a", "right": "b", "verdict": "left"}).status_code
            == 404
        )


def secrets_of(shown: dict) -> list[str]:
    """What a blind pair must not hold: every variant's provider key and name, prompt, id, label and job id."""
    found = []
    for v in shown["variants"]:
        found += [v["provider"], v["providerName"], v["prompt"], v["id"], v["jobId"], f"variant {v['label']}"]
    return found


def test_a_blind_pair_names_no_variant_and_a_vote_by_form_is_counted_then_revealed(compared):
    client, preset, shown = compared
    cells = {c["id"]: c for c in shown["cells"]}
    variants = {v["id"]: v for v in shown["variants"]}
    for _ in range(6):  # several pairs: each drawn at random
        html = page(client, f"/admin/comparisons/{shown['id']}/review")
        lowered = html.lower()
        for secret in secrets_of(shown):
            assert secret.lower() not in lowered, secret
        left = re.search(r'name="left" value="([0-9a-f]{32})"', html).group(1)
        right = re.search(r'name="right" value="([0-9a-f]{32})"', html).group(1)
        model = cells[left]["modelId"]
        assert cells[right]["modelId"] == model and cells[left]["variantId"] != cells[right]["variantId"]
        assert f'alt="Left output for {model}"' in html and f'alt="Right output for {model}"' in html
        for name in ("Left is better", "Right is better", "Both good", "Both bad"):
            assert name in html
        voted = form_post(
            client, f"/admin/comparisons/{shown['id']}/review", {"left": left, "right": right, "verdict": "left"}
        )
        assert voted.status_code == 303 and "?vote=" in voted.headers["Location"]
        reveal = page(client, voted.headers["Location"])
        left_variant, right_variant = variants[cells[left]["variantId"]], variants[cells[right]["variantId"]]
        assert (
            f"Left: variant {left_variant['label']}" in reveal and f"Right: variant {right_variant['label']}" in reveal
        )
        assert left_variant["providerName"] in reveal and "the left one is better" in reveal
        assert "autofocus data-next-pair" in reveal
    after = read_comparison(client, shown["id"])
    assert after["voters"] == [{"voter": "curator@example.com", "votes": 6}]
    assert sum(s["wins"] for s in after["scores"]) == 6
    assert "curator@<wbr>example.com (6)" in page(client, f"/admin/comparisons/{shown['id']}")


def test_a_vote_on_a_pair_that_cannot_be_judged_is_a_message_not_a_500(compared):
    client, _, shown = compared
    a, b = shown["variants"][0]["id"], shown["variants"][1]["id"]
    cells = {(c["variantId"], c["modelId"]): c["id"] for c in shown["cells"]}
    url = f"/admin/comparisons/{shown['id']}/review"
    for data in (
        {"left": cells[(a, "male_01")], "right": cells[(a, "male_02")], "verdict": "left"},
        {"left": cells[(a, "male_01")], "right": cells[(b, "male_01")], "verdict": "tie"},
        {"left": "f" * 32, "right": cells[(b, "male_01")], "verdict": "left"},
    ):
        response = form_post(client, url, data)
        assert response.status_code == 303 and response.headers["Location"].endswith("/review")
        assert "alert error" in page(client, response.headers["Location"])
    with client.application.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(ComparisonVote)) == 0


def test_no_pair_says_why(admin_client, immediate_huey):
    preset = create_preset(admin_client, name="Lonely")
    started = start_comparison(
        admin_client, preset["id"], [{"current": True}, {"provider": "FLUX_KONTEXT"}], ["male_01"]
    )
    with admin_client.application.app_context():
        from app.models import ComparisonCell

        cell = db.session.scalars(
            select(ComparisonCell).where(ComparisonCell.comparison_id == started["comparisonId"])
        ).first()
        cell.image_path = None  # as a failed output leaves it
        db.session.commit()
    html = page(admin_client, f"/admin/comparisons/{started['comparisonId']}/review")
    assert "Fewer than two variants have an output for the same model" in html and "data-pair-form" not in html


def test_adopting_by_form_changes_the_preset_and_adds_the_picked_outputs(compared):
    client, preset, shown = compared
    second = shown["variants"][2]
    picked = [c for c in shown["cells"] if c["variantId"] == second["id"]][:3]
    response = form_post(
        client,
        f"/admin/comparisons/{shown['id']}/adopt",
        {"variant_id": second["id"], "cell_ids": [c["id"] for c in picked]},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/admin/presets/{preset['id']}")
    html = page(client, response.headers["Location"])
    assert "Adopted variant C: the preset now runs it; 3 outputs added to the gallery." in html
    assert "Adopted from" in html and "(variant C) by curator@<wbr>example.com" in html
    with client.application.app_context():
        row = db.session.get(Preset, preset["id"])
        assert (row.provider, row.settings, row.prompt) == (second["provider"], second["settings"], second["prompt"])
        examples = list(db.session.scalars(select(GalleryExample).where(GalleryExample.preset_id == preset["id"])))
        assert sorted(e.model_id for e in examples) == sorted(c["modelId"] for c in picked)
        assert {e.state for e in examples} == {"unreviewed"}
        used = set(db.session.scalars(select(PresetModelUsage.model_id)))
        assert used == {c["modelId"] for c in picked}
    grid = page(client, f"/admin/comparisons/{shown['id']}")
    assert "Variant C was adopted on" in grid and "Adopt variant" not in grid
    activity = page(client, "/admin/activity")
    assert f'adopted variant C of <a href="/admin/comparisons/{shown["id"]}">a comparison</a> for <a' in activity
    again = form_post(client, f"/admin/comparisons/{shown['id']}/adopt", {"variant_id": second["id"]})
    assert again.status_code == 303 and "#adopt" in again.headers["Location"]
    assert "was adopted already" in page(client, again.headers["Location"])


def test_a_refused_adoption_shows_its_message_and_changes_nothing(compared):
    client, preset, shown = compared
    other = next(c for c in shown["cells"] if c["variantId"] == shown["variants"][2]["id"])
    response = form_post(
        client,
        f"/admin/comparisons/{shown['id']}/adopt",
        {"variant_id": shown["variants"][1]["id"], "cell_ids": [other["id"]]},
    )
    assert response.status_code == 303
    html = page(client, response.headers["Location"])
    assert "is not one of variant B&#39;s cells" in html and "alert error" in html
    unknown = form_post(client, f"/admin/comparisons/{shown['id']}/adopt", {"variant_id": "nope"})
    assert unknown.status_code == 303 and "No variant" in page(client, unknown.headers["Location"])
    with client.application.app_context():
        assert db.session.get(Preset, preset["id"]).prompt == "Film noir portrait, hard key light"
        assert db.session.scalar(select(db.func.count()).select_from(GalleryExample)) == 0


def start_form(**fields) -> dict:
    return {"current": "1", "male": "1", "female": "1", **fields}


def test_starting_by_form_runs_the_comparison_and_lists_it_on_the_preset_page(admin_client, immediate_huey):
    preset = create_preset(admin_client, name="Golden Hour")
    data = start_form(
        **{"variant-1-provider": "FLUX_KONTEXT", "variant-1-settings": "output_format=png, safety_tolerance=2"}
    )
    response = form_post(admin_client, f"/admin/presets/{preset['id']}/comparisons", data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    comparison_id = response.headers["Location"].rsplit("/", 1)[1]
    shown = read_comparison(admin_client, comparison_id)
    assert [v["provider"] for v in shown["variants"]] == ["NANO_BANANA", "FLUX_KONTEXT"]
    assert shown["variants"][1]["settings"] == {"output_format": "png", "safety_tolerance": 2}  # typed as the schema's
    assert len(shown["cells"]) == 4 and shown["status"] == "finished"
    html = page(admin_client, f"/admin/presets/{preset['id']}")
    assert f'href="/admin/comparisons/{comparison_id}"' in html
    assert "A: Nano Banana, B: FLUX Kontext Pro" in html and "badge-finished" in html and "winner —" in html
    with admin_client.application.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "comparison.create")).one()
        assert event.actor == "curator@example.com"
    activity = page(admin_client, "/admin/activity")
    assert "started <a" in activity and f'href="/admin/comparisons/{comparison_id}">a comparison</a> of' in activity


@pytest.mark.parametrize(
    ("fields", "message", "status"),
    [
        ({"variant-1-provider": "NOT_A_PROVIDER"}, "Variant B", 400),
        ({"variant-1-provider": "FLUX_KONTEXT", "variant-1-settings": "output_format"}, "is not a setting", 400),
        ({"variant-1-provider": "FLUX_KONTEXT", "variant-1-settings": "safety_tolerance=99"}, "Variant B", 400),
        ({"variant-2-prompt": "Only a prompt"}, "Row 2 has settings or a prompt but no provider", 400),
        ({}, "Choose 2 to 4 variants", 400),
        ({"variant-1-provider": "FLUX_KONTEXT", "male": "many"}, "How many male models", 400),
        ({"variant-1-provider": "FLUX_KONTEXT", "model_ids": "male_01, nobody_99"}, "nobody_99", 400),
    ],
)
def test_a_bad_start_form_shows_a_clear_message_with_what_was_typed(admin_client, fields, message, status):
    preset = create_preset(admin_client, name="Refused")
    response = form_post(admin_client, f"/admin/presets/{preset['id']}/comparisons", start_form(**fields))
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert 'id="compare-error"' in html and message in html
    for key, value in fields.items():
        if not key.endswith("-provider"):  # a select shows only the providers it offers
            assert value in html  # what was typed is kept
    with admin_client.application.app_context():
        assert (
            db.session.scalar(
                select(db.func.count()).select_from(AuditEvent).where(AuditEvent.action == "comparison.create")
            )
            == 0
        )


def test_cancel_by_form_is_refused_once_ended_and_a_live_grid_polls(compared):
    client, _, shown = compared
    response = form_post(client, f"/admin/comparisons/{shown['id']}/cancel", {})
    assert response.status_code == 303 and "has already ended" in page(client, response.headers["Location"])
    fragment = client.get(f"/admin/comparisons/{shown['id']}/live", headers={"HX-Request": "true"})
    assert fragment.status_code == 286 and fragment.headers["HX-Refresh"] == "true"


def test_a_queued_comparison_polls_and_offers_cancel_and_the_activity_log_says_it(admin_client):
    preset = create_preset(admin_client, name="Queued")
    started = start_comparison(admin_client, preset["id"], VARIANTS[:2], MODELS[:2])  # no worker: stays queued
    html = page(admin_client, f"/admin/comparisons/{started['comparisonId']}")
    assert 'hx-trigger="every 2s"' in html and "badge-queued" in html and ">Cancel</button>" in html
    assert "Adopt variant" not in html and html.count("badge-pending") == 4
    fragment = admin_client.get(f"/admin/comparisons/{started['comparisonId']}/live", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    no_pair = page(admin_client, f"/admin/comparisons/{started['comparisonId']}/review")
    assert "No output is ready yet" in no_pair
    canceled = form_post(admin_client, f"/admin/comparisons/{started['comparisonId']}/cancel", {})
    assert canceled.status_code == 303 and "Comparison canceled" in page(admin_client, canceled.headers["Location"])
    activity = page(admin_client, "/admin/activity")
    assert "canceled <a" in activity and "a comparison</a> of" in activity
    jobs = page(admin_client, "/admin/jobs")
    assert f'Variant of a <a href="/admin/comparisons/{started["comparisonId"]}">comparison</a>' in jobs


def test_the_preset_page_reads_its_comparisons_in_two_queries(compared):
    client, preset, shown = compared
    app = client.application
    bare = create_preset(client, name="Bare")
    with count_queries(app) as without:
        page(client, f"/admin/presets/{bare['id']}")
    with count_queries(app) as with_one:
        html = page(client, f"/admin/presets/{preset['id']}")
    # a preset without comparisons reads none (its head's one query says so); one with them: two more
    assert not any("comparison_votes" in q or q.lstrip().startswith("SELECT comparisons.") for q in without)
    assert len(with_one) - len(without) == 2
    assert html.count('class="comparison-list"') == 1 and "A: Nano Banana, B: FLUX Kontext Pro, C: Nano Banana" in html
