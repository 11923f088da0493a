"""The activity page reads as sentences with links, filtered by preset, person and kind, a page at a time."""

import html
import re

from app.accounts.audit import PER_PAGE, record
from app.core.database import db
from tests.conftest import ADMIN_EMAIL, create_preset, post_generate
from tests.factories import mark_used, seed

HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")


def sentences(page: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each line of the activity page: its visible sentence and its links (text, href), newest first."""
    found = []
    for body in re.findall(r'<p class="sentence">(.*?)</p>', page, re.S):
        links = [(html.unescape(t), html.unescape(h)) for h, t in re.findall(r'<a href="([^"]*)">([^<]*)</a>', body)]
        text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", body))).strip()
        found.append((text, links))
    return found


def visible_text(page: str) -> str:
    main = page.split("<main", 1)[1]
    return html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", "", main, flags=re.S)))


def post(client, path: str, **fields):
    response = client.post(path, data={"csrf_token": client.csrf, **fields})
    assert response.status_code in (200, 303), (path, response.status_code, response.get_data(as_text=True)[:300])
    return response


def test_each_action_reads_as_a_sentence_with_its_link(admin_app, admin_client):
    admin_app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    preset = create_preset(admin_client, name="Film Noir Portrait")["id"]
    first, second, third, fourth = seed(admin_app, preset, ["unreviewed"] * 4)
    post(admin_client, f"/admin/presets/{preset}/gallery", state="approved", ids=[first, second, third])
    post(admin_client, f"/admin/presets/{preset}/gallery", verdict=f"{fourth}:approved")
    job = post_generate(admin_client, preset, {"modelIds": ["male_20", "female_20"]}).get_json()["jobId"]
    post(admin_client, f"/admin/jobs/{job}/cancel")
    mark_used(admin_app, preset, ["male_30"])
    post(admin_client, f"/admin/presets/{preset}/models/release", model="male_30")
    created = admin_app.test_cli_runner().invoke(args=["tokens", "create", "ci-bot"])
    assert created.exit_code == 0, created.output

    page = admin_client.get("/admin/activity").get_data(as_text=True)
    lines = sentences(page)
    preset_link = ("Film Noir Portrait", f"/admin/presets/{preset}")
    token, release, cancel, one, three = lines[:5]
    assert three == (
        f"{ADMIN_EMAIL} approved 3 examples of Film Noir Portrait",
        [("3 examples", f"/admin/presets/{preset}?state=approved#gallery-section"), preset_link],
    )
    assert one == (
        f"{ADMIN_EMAIL} approved an example of Film Noir Portrait",
        [("an example", f"/admin/presets/{preset}/examples/{fourth}"), preset_link],
    )
    assert cancel == (
        f"{ADMIN_EMAIL} canceled job {job[:8]} of Film Noir Portrait",
        [(f"job {job[:8]}", f"/admin/jobs/{job}"), preset_link],
    )
    assert release == (f"{ADMIN_EMAIL} released model male_30 for Film Noir Portrait", [preset_link])
    assert token[0].startswith("cli ") and token[0].endswith(" created the API token ci-bot"), token
    shown = visible_text(page)
    codes = ("example.approve", "job.cancel", "usage.release", "token.create", "preset.create")
    assert not [code for code in codes if code in shown], "no action code on screen"
    assert not HEX_ID.search(shown), "no full id on screen"
    for _, links in lines[:5]:
        for _, href in links:
            assert admin_client.get(href.split("#")[0]).status_code == 200, href


def test_the_activity_filters_by_preset_person_and_kind_and_pages(admin_app, admin_client):
    noir = create_preset(admin_client, name="Film Noir Portrait")["id"]
    other = create_preset(admin_client, name="Beach")["id"]
    with admin_app.app_context():
        for n in range(PER_PAGE + 5):
            record("cli ops", "token.create", f"token t{n}")
        record(ADMIN_EMAIL, "usage.clear", "preset Film Noir Portrait", "3 usage rows", preset_id=noir)
        record(ADMIN_EMAIL, "usage.clear", "preset Beach", "1 usage rows", preset_id=other)
        db.session.commit()

    def texts(query: str) -> list[str]:
        response = admin_client.get(f"/admin/activity?{query}")
        assert response.status_code == 200, query
        return [text for text, _ in sentences(response.get_data(as_text=True))]

    noir_clear = f"{ADMIN_EMAIL} cleared the model usage of Film Noir Portrait (3 usage rows)"
    assert texts(f"preset={noir}&kind=usage") == [noir_clear]
    beach_clear = f"{ADMIN_EMAIL} cleared the model usage of Beach (1 usage rows)"
    assert texts(f"person={ADMIN_EMAIL}") == [beach_clear, noir_clear]
    assert all(t.startswith("token ") for t in texts("kind=preset")), "the presets were made with the API token"
    first, second = texts("person=cli+ops"), texts("person=cli+ops&page=2")
    assert len(first) == PER_PAGE and len(second) == 5 and first[0] == "cli ops created the API token t54"
    page = admin_client.get("/admin/activity?person=cli+ops").get_data(as_text=True)
    assert 'rel="next" href="/admin/activity?page=2&amp;person=cli+ops"' in page
    assert admin_client.get("/admin/activity?kind=bogus").status_code == 400
    assert admin_client.get("/admin/activity?page=0").status_code == 400
    assert admin_client.get("/admin/activity?page=%C2%B2").status_code == 400  # "²" is a digit int() refuses
