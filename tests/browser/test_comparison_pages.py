"""Issue 37, acceptance 4 in Chromium, against a real worker and the Replicate-compatible server: the grid (live
while it runs, every cell and total once done), a blind pair judged by the keys alone, and the adopt dialog, at
1280 and 390 px. At 390 px the page never scrolls sideways: the grid scrolls in its own region with the model
column fixed. Screenshots in test-artifacts/ (comparison-*.png)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.core.database import db
from app.models import ComparisonVote
from app.services import services_of
from tests.browser.conftest import DESKTOP, PHONE, no_horizontal_overflow, screenshot, sign_in
from tests.browser.gallery_seed import picture
from tests.conftest import create_preset
from tests.helpers import read_comparison, start_comparison, wait_until

MODELS = ["female_03", "male_07", "female_11", "male_02"]
VARIANTS = [
    {"current": True},
    {"provider": "FLUX_KONTEXT", "settings": {"output_format": "png"}},
    {"provider": "NANO_BANANA", "settings": {"aspect_ratio": "1:1"}, "prompt": "Soft window light, plain backdrop"},
]
KEY_VERDICTS = {"ArrowLeft": "left", "ArrowDown": "both_bad", "ArrowRight": "right", "ArrowUp": "both_good"}
WIDTHS = [pytest.param(DESKTOP, id="1280"), pytest.param(PHONE, id="390")]


def begin(live) -> tuple[str, str]:
    """A preset (three of its models' photos cached) and a comparison of 3 variants x 4 models, queued."""
    client = live.app.test_client()
    preset = create_preset(client, name="Film Noir", prompt="Black and white film noir portrait, hard key light")
    storage = services_of(live.app).storage
    for model_id in MODELS[:3]:  # male_02 shows the "not cached" placeholder
        label, colour = f"REF {model_id}", (150, 120, 90)
        storage.save_bytes(f"references/{model_id}.jpg", picture(label, colour, (800, 1000), "JPEG"))
        storage.save_bytes(f"references/{model_id}-thumb.webp", picture(label, colour, (256, 320), "WEBP"))
    return preset["id"], start_comparison(client, preset["id"], VARIANTS, MODELS)["comparisonId"]


def finish(live, comparison_id: str) -> dict:
    """Run it (the worker) to its end; returns it as the API reads it."""
    live.start_consumer()
    client = live.app.test_client()
    wait_until(lambda: read_comparison(client, comparison_id)["status"] == "finished", timeout=90)
    return read_comparison(client, comparison_id)


def votes(live, comparison_id: str) -> list[tuple[str, str, str]]:
    def read():
        query = select(ComparisonVote).where(ComparisonVote.comparison_id == comparison_id).order_by(ComparisonVote.id)
        return [(v.left_cell_id, v.right_cell_id, v.verdict) for v in db.session.scalars(query)]

    return live.query(read)


def grid_scrolls_in_its_region(page) -> bool:
    """The region is wider inside than its box, and scrolled sideways the model column stays where it was."""
    return page.evaluate(
        """() => {
          const region = document.querySelector('.grid-scroll');
          const model = region.querySelector('tbody .model-col');
          if (region.scrollWidth <= region.clientWidth) return false;
          const before = model.getBoundingClientRect().left;
          region.scrollLeft = 250;
          const after = model.getBoundingClientRect().left;
          const moved = region.scrollLeft > 0;
          region.scrollLeft = 0;
          return moved && Math.abs(before - after) < 1;
        }"""
    )


def test_the_grid_is_live_while_it_runs_then_shows_every_cell_and_total(page, live):
    preset_id, comparison_id = begin(live)
    sign_in(page)
    page.goto(f"/admin/comparisons/{comparison_id}")
    assert page.locator(".comparison-status .badge").inner_text() == "queued"
    assert page.locator("td.cell-pending").count() == 12
    live.start_consumer()  # the page polls its grid, then reloads itself once the comparison has ended
    page.locator(".comparison-status .badge-finished").wait_for(timeout=90_000)
    page.wait_for_load_state("networkidle")
    for width in (DESKTOP, PHONE):
        page.set_viewport_size(width)
        page.reload()
        assert page.locator("td.cell-succeeded a.cell-output img").count() == 12
        assert page.locator("tbody th.model-col").count() == 4
        assert page.locator("dl.totals").count() == 3
        assert page.locator("dl.totals", has_text="4 of 4 (100%)").count() == 3
        assert page.locator("thead .variant-head").all_inner_texts()[1].startswith("Variant B")
        assert page.locator(".comparison-scores .winner").inner_text().startswith("No vote yet")
        assert page.locator("details.adopt-variant").count() == 3
        assert no_horizontal_overflow(page), f"the grid page scrolls sideways at {width['width']} px"
        if width == PHONE:
            assert grid_scrolls_in_its_region(page)
        screenshot(page, "comparison-grid")
    first = page.locator("td.cell-succeeded a.cell-output").first
    full = first.get_attribute("href")
    assert page.request.get(full).ok and full != first.locator("img").get_attribute("src")  # opens the original


@pytest.mark.parametrize("width", WIDTHS)
def test_blind_pairs_judged_by_the_keys_alone(page, live, width):
    _, comparison_id = begin(live)
    shown = finish(live, comparison_id)
    page.set_viewport_size(width)
    sign_in(page)
    page.goto(f"/admin/comparisons/{comparison_id}/review")
    secrets = [s for v in shown["variants"] for s in (v["providerName"], v["prompt"], v["id"], v["jobId"])]
    for n, (key, verdict) in enumerate(KEY_VERDICTS.items()):
        form = page.locator("form[data-pair-form]")
        form.wait_for()
        html = page.content()
        assert not [s for s in secrets if s in html], "the pair names its variants"
        left = form.locator("input[name=left]").get_attribute("value")
        right = form.locator("input[name=right]").get_attribute("value")
        if n == 0:
            assert no_horizontal_overflow(page)
            screenshot(page, "comparison-pair", full_page=False)
        page.keyboard.press(key)
        page.wait_for_url("**/review?vote=*")
        assert votes(live, comparison_id)[-1] == (left, right, verdict)
        reveal = page.locator(".reveal")
        assert "Left: variant" in reveal.inner_text() and "Right: variant" in reveal.inner_text()
        assert page.evaluate("document.activeElement.hasAttribute('data-next-pair')")  # Enter: the next pair
        if n == 0:
            assert no_horizontal_overflow(page)
            screenshot(page, "comparison-reveal", full_page=False)
        page.keyboard.press("Enter")
        page.wait_for_url("**/review")
    assert len(votes(live, comparison_id)) == 4
    scores = read_comparison(live.app.test_client(), comparison_id)["scores"]
    assert sum(s["votes"] for s in scores) == 8 and sum(s["bothBad"] for s in scores) == 2


@pytest.mark.parametrize("width", WIDTHS)
def test_the_adopt_dialog_adopts_a_variant_with_the_outputs_ticked(page, live, width):
    preset_id, comparison_id = begin(live)
    shown = finish(live, comparison_id)
    page.set_viewport_size(width)
    sign_in(page)
    page.goto(f"/admin/comparisons/{comparison_id}")
    dialog = page.locator("details#adopt-B")
    dialog.locator("summary").click()
    boxes = dialog.locator("input[name=cell_ids]")
    assert boxes.count() == 4 and dialog.locator("input[name=cell_ids]:checked").count() == 0  # none ticked
    assert "The preset will use FLUX Kontext Pro" in dialog.inner_text()
    boxes.nth(1).check()
    picked = boxes.nth(1).get_attribute("value")
    assert no_horizontal_overflow(page)
    dialog.scroll_into_view_if_needed()
    screenshot(page, "comparison-adopt", full_page=False)
    dialog.locator("button[type=submit]").click()
    page.wait_for_url(f"**/admin/presets/{preset_id}")
    assert (
        "Adopted variant B: the preset now runs it; 1 output added to the gallery."
        in page.locator("#toasts").inner_text()
    )
    model = next(c["modelId"] for c in shown["cells"] if c["id"] == picked)
    assert page.locator("#gallery li.example").count() == 1
    assert page.locator(f"#gallery li.example[data-model-id='{model}']").count() == 1
    assert "(variant B) by curator@" in page.locator(".adopted-from").inner_text()
    assert "FLUX Kontext Pro" in page.locator(".facts").first.inner_text()
    assert page.locator(".comparison-list li", has_text="adopted").count() == 1
    assert no_horizontal_overflow(page)
    screenshot(page, "comparison-adopted")


def test_a_comparison_started_from_the_preset_page_form(page, live):
    """The preset page's link to the start form: a bad row is refused with its message and what was typed; then a
    good one starts the comparison, whose grid fills by itself."""
    client = live.app.test_client()
    preset_id = create_preset(client, name="Golden Hour", prompt="Golden-hour portrait, warm rim light")["id"]
    live.start_consumer()
    sign_in(page)
    page.goto(f"/admin/presets/{preset_id}")
    page.locator("#compare-link").click()
    form = page.locator("#compare-form")
    assert form.locator("input[name=current]").is_checked()
    form.locator("#variant-1-provider").select_option("FLUX_KONTEXT")
    form.locator("#variant-1-settings").fill("safety_tolerance=99")
    form.locator("button[type=submit]").click()
    page.locator("#compare-error").wait_for()
    assert "Variant B" in page.locator("#compare-error").inner_text()
    assert page.locator("#variant-1-settings").input_value() == "safety_tolerance=99"
    page.locator("#variant-1-settings").fill("output_format=png")
    page.locator("input[name=male]").fill("1")
    page.locator("input[name=female]").fill("1")
    page.locator("#compare-form button[type=submit]").click()
    page.wait_for_url("**/admin/comparisons/*")
    assert "Comparison started: 2 variants" in page.locator("#toasts").inner_text()
    page.locator(".comparison-status .badge-finished").wait_for(timeout=90_000)
    page.wait_for_load_state("networkidle")
    assert page.locator("td.cell-succeeded").count() == 4
    page.goto(f"/admin/presets/{preset_id}")
    line = page.locator(".comparison-list li")
    assert line.count() == 1 and "A: Nano Banana, B: FLUX Kontext Pro" in line.inner_text()
