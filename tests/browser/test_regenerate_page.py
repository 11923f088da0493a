"""Issue 15 in Chromium: "Regenerate" in an example's large view (opened from its card: issue 32 moved the rarer
actions off the cards) makes one new example with the preset's current prompt, the old one stays, and the jobs
list names what the job redoes."""

from __future__ import annotations

from app.core.database import db
from app.models import GalleryExample, Preset
from tests.browser.conftest import PHONE, create_preset_in_browser, no_horizontal_overflow, screenshot, sign_in

CHOSEN = ["female_09", "male_14"]


def test_regenerate_from_the_example_view_adds_one_example_made_with_the_current_prompt(page, live):
    live.start_consumer()
    sign_in(page)
    preset_id = create_preset_in_browser(page, "Redo One", prompt="Old prompt, window light")
    page.check("#mode-choose")
    for model_id in CHOSEN:
        page.check(f"#pool input[data-pick][value={model_id}]")
    page.click("#generate-form button[type=submit]")
    page.wait_for_selector("#progress[data-status=succeeded]", timeout=60_000)

    def change_prompt():
        db.session.get(Preset, preset_id).prompt = "New prompt, hard flash"
        db.session.commit()

    live.query(change_prompt)
    page.reload()
    cards = page.locator("#gallery li.example")
    assert cards.count() == 2
    old = page.locator("#gallery li.example[data-model-id=male_14]")
    assert old.locator("form, [formaction]").count() == 0  # the card has no rare action of its own
    old.locator("a[data-example-open]").click()
    dialog = page.locator("dialog.example-dialog")
    dialog.wait_for(state="visible")
    assert dialog.locator("[data-field=prompt]").inner_text() == "Old prompt, window light"
    button = dialog.get_by_role("button", name="Regenerate the example of male_14")
    assert button.is_visible()
    screenshot(page, "regenerate-view", full_page=False)

    creates = len(live.replicate.creates)
    page.problems.expect_confirm = True  # asked first: it costs a prediction
    button.click()
    made = dialog.locator("[data-regenerated-as-link]")
    made.wait_for(timeout=60_000)  # the view follows its job and links the new example when it is stored
    page.problems.expect_confirm = False
    assert len(live.replicate.creates) == creates + 1
    made.click()  # the new example, in the same overlay
    page.wait_for_function(
        "() => document.querySelector('dialog.example-dialog [data-field=prompt]').textContent"
        " === 'New prompt, hard flash'"
    )
    assert "Regenerated from" in dialog.locator("[data-regenerated-from]").inner_text()
    screenshot(page, "regenerate-done", full_page=False)
    dialog.locator("button[data-dialog-close]").click()
    dialog.wait_for(state="hidden")
    page.wait_for_url(f"**/admin/presets/{preset_id}")  # the dialog's "close" event, a task later, restores it

    page.reload()
    assert cards.count() == 3  # the old one stays
    prompts = live.query(
        lambda: sorted(e.prompt for e in db.session.query(GalleryExample).filter_by(preset_id=preset_id))
    )
    assert prompts == ["New prompt, hard flash"] + ["Old prompt, window light"] * 2
    assert live.query(lambda: db.session.query(GalleryExample).filter_by(model_id="male_14").count()) == 2
    assert page.locator("#gallery li.example[data-model-id=male_14]").count() == 2

    page.goto("/admin/jobs")
    kind = page.locator(".jobs-table .job-kind")
    assert kind.count() == 1 and "Regenerate of example" in kind.inner_text()
    screenshot(page, "regenerate-jobs")
    page.locator(".jobs-table tbody tr").first.locator("a", has_text="Details").click()
    assert "Regenerate of example" in page.locator(".facts .job-kind").inner_text()
    assert "(model male_14 #1)" in page.locator(".facts .job-kind").inner_text()
    screenshot(page, "regenerate-job")

    page.set_viewport_size(PHONE)
    page.goto(f"/admin/presets/{preset_id}")
    assert no_horizontal_overflow(page)
    page.locator("#gallery li.example[data-model-id=male_14] a[data-example-open]").first.click()
    dialog.wait_for(state="visible")
    regenerate = dialog.get_by_role("button", name="Regenerate the example of male_14")
    regenerate.scroll_into_view_if_needed()
    assert regenerate.is_visible() and no_horizontal_overflow(page)
    screenshot(page, "regenerate-view", full_page=False)
    dialog.locator("button[data-dialog-close]").click()
    page.goto("/admin/jobs")
    assert no_horizontal_overflow(page)
    screenshot(page, "regenerate-jobs")
