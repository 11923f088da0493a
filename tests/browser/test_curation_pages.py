"""Issue 14 in Chromium: choosing models in the pool, filtering it, releasing one model (pool and card)."""

from __future__ import annotations

from tests import factories
from tests.browser.conftest import PHONE, create_preset_in_browser, no_horizontal_overflow, screenshot, sign_in

CHOSEN = ["female_04", "female_07", "male_12"]


def test_choose_three_models_in_the_pool_then_release_one_from_the_pool_and_one_from_a_card(page, live):
    live.start_consumer()
    sign_in(page)
    preset_id = create_preset_in_browser(page, "Chosen Few")

    factories.mark_used(live.app, preset_id, ["male_01", "female_01"])
    page.reload()
    assert page.locator("#pool li.pool-model").count() == 72
    assert "used 20" in page.locator("#pool li.pool-model[data-pool-model=male_01] .pool-state").inner_text()
    assert not page.locator("#pool input[data-pick]").first.is_visible()  # only in "choose models" mode

    page.check("#mode-choose")
    page.select_option("select[data-pool-filter=gender]", "female")
    page.select_option("select[data-pool-filter=state]", "free")
    assert page.locator("#pool li.pool-model:visible").count() == 35
    assert "35 of 72 shown" in page.locator("[data-pool-shown]").inner_text()
    page.select_option("select[data-pool-filter=gender]", "")
    for model_id in CHOSEN:
        page.check(f"#pool input[data-pick][value={model_id}]")
    assert page.locator("#generate-estimate [data-images]").inner_text() == "3"
    assert page.locator("#generate-form [data-picked]").inner_text() == "3"
    page.select_option("select[data-pool-filter=state]", "used")
    assert page.locator("#pool li.pool-model:visible").count() == 2
    page.select_option("select[data-pool-filter=state]", "")
    page.locator("#pool").scroll_into_view_if_needed()
    screenshot(page, "curation-choose")

    page.click("#generate-form button[type=submit]")
    page.wait_for_selector("#progress[data-status=succeeded]", timeout=60_000)
    page.reload()
    assert sorted(page.locator("#gallery li.example").evaluate_all("els => els.map(e => e.dataset.modelId)")) == sorted(
        CHOSEN
    )
    assert page.locator("#pool li.pool-model.used").count() == 5

    # release one model from the pool: asked first, frees exactly that one, keeps its example
    page.problems.expect_confirm = True
    page.click("#pool li.pool-model[data-pool-model=female_04] button")
    page.wait_for_url(f"**/admin/presets/{preset_id}*")
    assert page.problems.confirmed == [
        "Release model female_04 so the next jobs can select it again? Its examples stay in the gallery."
    ]
    assert "Model female_04 released" in page.locator("#toasts").inner_text()
    page.wait_for_selector("#pool li.pool-model.free[data-pool-model=female_04]")  # freed
    assert page.locator("#pool li.pool-model.used").count() == 4
    assert page.locator("#gallery li.example[data-model-id=female_04]").count() == 1

    # and one from its card: rejected with the gallery's "releases the model" box ticked
    page.problems.expect_confirm = False
    card = page.locator("#gallery li.example[data-model-id=male_12]")
    shown = page.locator("#gallery li.example").count()
    page.locator(".bulk-bar input[name=release]").check()
    card.get_by_role("button", name="Reject").click()
    page.wait_for_selector("#gallery li.example[data-model-id=male_12] .curation[data-state=rejected]")
    screenshot(page, "curation-card-release")
    page.wait_for_selector("#pool li.pool-model.free[data-pool-model=male_12]")  # freed
    assert page.locator("#gallery li.example").count() == shown  # the card stays, rejected, until a reload
    page.locator(".bulk-bar input[name=release]").uncheck()

    page.set_viewport_size(PHONE)
    page.check("#mode-choose")
    page.check("#pool input[data-pick][value=male_12]")
    assert no_horizontal_overflow(page)
    page.locator("#pool").scroll_into_view_if_needed()
    screenshot(page, "curation-choose")
