"""Issue 33 in Chromium: a canceled job's page and the jobs list say how many items were canceled and what a retry
reruns; the activity page reads as sentences; both at desktop and phone width, without sideways scrolling."""

from __future__ import annotations

from tests.browser.axe import axe_violations
from tests.browser.conftest import DESKTOP, PHONE, no_horizontal_overflow, screenshot, sign_in
from tests.conftest import auth_headers, create_preset, post_generate
from tests.factories import seed


def test_a_canceled_job_and_the_activity_read_as_a_curator_would_say_them(page, live):
    client = live.app.test_client()
    preset = create_preset(client, name="Film Noir Portrait")["id"]
    job = post_generate(client, preset, {"examplesPerModel": 2}).get_json()["jobId"]  # no worker: it waits
    assert client.post(f"/api/admin/jobs/{job}/cancel", headers=auth_headers()).status_code == 202
    ids = seed(live.app, preset, ["unreviewed"] * 3)
    body = {"ids": ids, "state": "approved"}
    approved = client.post(f"/api/admin/presets/{preset}/gallery/state", json=body, headers=auth_headers())
    assert approved.status_code == 200
    sign_in(page)
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.goto(f"/admin/jobs/{job}")
        assert page.locator("button.retry-job").inner_text() == "Retry 40 canceled items"
        assert " ".join(page.locator("dd.job-outcome").inner_text().split()) == "0 stored, 40 canceled of 40"
        assert no_horizontal_overflow(page), f"the job page scrolls sideways at {size['width']} px"
        screenshot(page, "canceled-job")
        page.goto("/admin/jobs")
        assert " ".join(page.locator("td.job-outcome").first.inner_text().split()) == "0 stored, 40 canceled"
        assert no_horizontal_overflow(page), f"the jobs list scrolls sideways at {size['width']} px"
        screenshot(page, "canceled-jobs")
        page.goto("/admin/activity")
        sentences = [" ".join(t.split()) for t in page.locator(".activity-line .sentence").all_inner_texts()]
        assert sentences[:2] == [
            "token ADMIN_API_TOKEN approved 3 examples of Film Noir Portrait",
            f"token ADMIN_API_TOKEN canceled job {job[:8]} of Film Noir Portrait",
        ]
        assert no_horizontal_overflow(page), f"the activity page scrolls sideways at {size['width']} px"
        screenshot(page, "activity")
        assert not [v for v in axe_violations(page) if ".activity" in v or ".job-outcome" in v]
