"""Analytics (issue 19) beyond the figures: the date range (defaults, bad values → 400 naming them), a fixed
number of queries however many presets there are, CSV files safe to open in a spreadsheet, the charts'
structure (title, axis labels, the table right after), sign-in, and nothing inline for the CSP."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from app.models import utcnow
from tests import factories
from tests.analytics_seed import QUERY, seed_history
from tests.conftest import auth_headers
from tests.helpers import count_queries, signed_in


@pytest.fixture
def client(make_app):
    app = make_app()
    seed_history(app)
    client = signed_in(app)
    client.application = app
    return client


def test_the_default_range_is_the_last_90_days_utc(client):
    body = client.get("/api/admin/analytics", headers=auth_headers()).get_json()
    today = utcnow().date()
    assert (body["from"], body["to"], body["days"]) == ((today - timedelta(days=89)).isoformat(), today.isoformat(), 90)
    only_to = client.get("/api/admin/analytics?to=2026-10-31", headers=auth_headers()).get_json()
    assert (only_to["from"], only_to["to"]) == ("2026-08-03", "2026-10-31")
    one_day = client.get("/api/admin/analytics?from=2026-10-31&to=2026-10-31").get_json()
    assert one_day["days"] == 1 and [w["week"] for w in one_day["weeks"]] == ["2026-W44"]


@pytest.mark.parametrize(
    "query, named",
    [
        ("from=2026-13-01", "from='2026-13-01'"),
        ("to=yesterday", "to='yesterday'"),
        ("from=2026-9-1", "from='2026-9-1'"),
        ("from=2026-10-31&to=2026-09-01", "from=2026-10-31 is after to=2026-09-01"),
        ("from=1990-01-01&to=2026-01-01", "spans"),
    ],
)
def test_a_bad_range_gets_a_400_naming_the_value_everywhere(client, query, named):
    api = client.get(f"/api/admin/analytics?{query}", headers=auth_headers())
    assert api.status_code == 400 and named in api.get_json()["error"]
    page = client.get(f"/admin/analytics?{query}")
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and "data-error-message" in html
    assert named.replace("'", "&#39;") in html and 'name="from"' in html  # the form is there to fix it
    sheet = client.get(f"/admin/analytics/models.csv?{query}")
    assert sheet.status_code == 400 and named.replace("'", "&#39;") in sheet.get_data(as_text=True)


def test_an_unknown_table_is_a_404(client):
    response = client.get(f"/admin/analytics/secrets.csv?{QUERY}")
    assert response.status_code == 404 and "choose one of providers, models, presets, weeks" in response.get_data(
        as_text=True
    )


def test_the_page_and_the_api_need_a_sign_in(make_app):
    anonymous = make_app().test_client()
    assert anonymous.get("/admin/analytics").status_code == 302
    assert anonymous.get("/admin/analytics/models.csv").status_code == 302
    assert anonymous.get("/api/admin/analytics").status_code == 401


def test_the_query_count_does_not_grow_with_presets(client):
    app = client.application
    with count_queries(app) as small:
        assert client.get(f"/admin/analytics?{QUERY}").status_code == 200
    with count_queries(app) as api_small:
        assert client.get(f"/api/admin/analytics?{QUERY}").status_code == 200
    seed_history(app, presets=40, name_prefix="More")  # 60 presets now, with their own jobs and examples
    with count_queries(app) as large:
        html = client.get(f"/admin/analytics?{QUERY}").get_data(as_text=True)
    with count_queries(app) as api_large:
        assert len(client.get(f"/api/admin/analytics?{QUERY}").get_json()["presets"]) == 60
    assert html.count('<a href="/admin/presets/') == 60
    assert len(small) == len(large) and len(api_small) == len(api_large), (small, large)
    assert len(api_large) <= 15, api_large


def test_csv_cells_never_start_a_formula(client):
    app = client.application
    for name in ('=HYPERLINK("http://evil")', "+1+1", "-2", "@SUM(A1)", "Plain = fine"):
        factories.preset(app, name, provider="FLUX_PRO")
    rows = list(csv.reader(io.StringIO(client.get(f"/admin/analytics/presets.csv?{QUERY}").get_data(as_text=True))))
    names = {row[1] for row in rows[1:]}
    assert {'\'=HYPERLINK("http://evil")', "'+1+1", "'-2", "'@SUM(A1)", "Plain = fine"} <= names
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_each_chart_has_a_title_axis_labels_and_its_table_right_after(client):
    html = client.get(f"/admin/analytics?{QUERY}").get_data(as_text=True)
    for key in ("providers", "models", "presets", "weeks"):
        section = re.search(rf'<section class="panel analytics-section" id="{key}".*?</section>', html, re.S).group(0)
        svg = re.search(r"<svg .*?</svg>", section, re.S).group(0)
        assert re.search(rf'<title id="chart-{key}-title">[^<]+</title>', svg)
        assert 'role="img"' in svg and f'aria-labelledby="chart-{key}-title chart-{key}-desc"' in svg
        assert len(re.findall(r'class="axis-label"', svg)) >= 2
        after = section[section.index("</figure>") + len("</figure>") :]
        assert after.lstrip().startswith('<div class="table-scroll" role="region" tabindex="0"')
        assert f'<caption id="{key}-caption">' in after and f'aria-labelledby="{key}-caption"' in after
        assert f'href="/admin/analytics/{key}.csv?from=2026-09-01&amp;to=2026-10-31"' in section
    bars = re.findall(r'<rect class="series-approval"[^>]*><title>([^<]+)</title>', html)
    assert "Nano Banana: approval rate " in bars[0]  # each bar names its value, as the table writes it


def test_the_page_is_linked_from_the_nav_and_has_nothing_inline(client):
    html = client.get("/admin/presets").get_data(as_text=True)
    assert '<a href="/admin/analytics"' in html
    page = client.get(f"/admin/analytics?{QUERY}")
    text = page.get_data(as_text=True)
    assert not re.search(r"\sstyle=|<style|<script(?![^>]*\ssrc=)|\son[a-z]+=", text)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
