"""The Providers page (issue 35): every provider row, read-only, linked from the nav: display name, model,
state, price rule, reference field and the presets on it."""

from __future__ import annotations

import re

from tests.conftest import create_admin, create_preset, sign_in

PRICE = '{"kind": "per_image_by_setting", "setting": "megapixels", "usd": {"0.25": "0.01", "1": "0.02", "4": "0.05"}}'


def row(html: str, key: str) -> str:
    found = re.search(rf'<tr id="provider-{key}">(.*?)</tr>', html, re.S)
    assert found, key
    return re.sub(r"\s+", " ", found.group(1))


def test_the_providers_page_lists_each_row_with_its_model_state_price_and_reference_field(make_app, replicate_server):
    app = make_app(replicate=replicate_server)
    create_admin(app)
    client = app.test_client()
    sign_in(client)
    runner = app.test_cli_runner()
    added = runner.invoke(args=["providers", "add", "acme/portrait-editor", "--key", "ACME", "--price", PRICE, "--yes"])
    assert added.exit_code == 0, added.output
    create_preset(client, name="One", provider="FLUX_PRO")
    create_preset(client, name="Two", provider="FLUX_PRO")
    create_preset(client, name="Three", provider="ACME")
    assert runner.invoke(args=["providers", "retire", "STABLE_DIFFUSION"]).exit_code == 0

    presets_page = client.get("/admin/presets").get_data(as_text=True)
    assert '<a href="/admin/providers" >Providers</a>' in presets_page  # in the nav
    response = client.get("/admin/providers")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'aria-current="page">Providers</a>' in html
    keys = ["NANO_BANANA", "FLUX_KONTEXT", "FLUX_PRO", "STABLE_DIFFUSION", "ACME"]
    assert re.findall(r'<tr id="provider-([A-Z_]+)">', html) == keys
    flux = row(html, "FLUX_PRO")
    assert "<strong>FLUX 1.1 Pro</strong>" in flux and "<code>black-forest-labs/flux-1.1-pro</code>" in flux
    assert '<span class="tag active">active</span>' in flux and "$0.04 per image (PRICE_FLUX_PRO)" in flux
    assert '<code>image_prompt</code> <span class="muted">(one image)</span>' in flux
    assert '<td data-label="Presets" class="num">2</td>' in flux
    assert '<code>image_input</code> <span class="muted">(a list)</span>' in row(html, "NANO_BANANA")
    sd = row(html, "STABLE_DIFFUSION")
    assert '<span class="tag retired">retired</span>' in sd and "PRICE_STABLE_DIFFUSION_PER_SECOND" in sd
    acme = row(html, "ACME")
    assert "<code>acme/portrait-editor</code>" in acme and "per image by megapixels (" in acme
    assert all(price in acme for price in ("0.25: $0.01", "1: $0.02", "4: $0.05"))
    assert '<code>input_image</code> <span class="muted">(one image)</span>' in acme
    assert '<td data-label="Presets" class="num">1</td>' in acme
    assert re.search(r'<td data-label="Schema read" class="day">\d{4}-\d\d-\d\d</td>', acme)


def test_the_providers_page_needs_a_signed_in_admin(admin_app):
    response = admin_app.test_client().get("/admin/providers")
    assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"]
