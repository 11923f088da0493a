"""Issue 33, acceptance 1: every admin page at 1280 and 390 px in Chromium. The page never scrolls sideways,
no text is clipped, no internal name (provider enum, audit action code, schema key) shows outside a `<code>`,
and axe finds no WCAG 2 AA violation. Each page's screenshot is saved in test-artifacts/ (every-NAME-WIDTH.png).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.accounts.audit import record
from app.core.database import db
from app.models import Job
from app.providers.catalog import PROVIDERS
from app.services import services_of
from tests import factories
from tests.analytics_seed import seed_history
from tests.browser.axe import axe_violations
from tests.browser.conftest import DESKTOP, PHONE, live_stack, no_horizontal_overflow, screenshot, sign_in
from tests.browser.gallery_seed import picture, seed_gallery
from tests.conftest import ADMIN_EMAIL

PAGES = {
    "presets": "/admin/presets",
    "preset": "/admin/presets/{preset}",
    "new-preset": "/admin/presets/new",
    "edit-preset": "/admin/presets/{preset}/edit",
    "example": "/admin/presets/{preset}/examples/{example}",
    "comparison": "/admin/comparisons/{comparison}",
    "comparison-review": "/admin/comparisons/{comparison}/review",
    "comparison-reveal": "/admin/comparisons/{comparison}/review?vote={vote}",
    "comparison-new": "/admin/presets/{preset}/comparisons/new",
    "jobs": "/admin/jobs",
    "job": "/admin/jobs/{job}",
    "analytics": "/admin/analytics?from=2026-09-01&to=2026-10-31",
    "providers": "/admin/providers",
    "activity": "/admin/activity",
    "sessions": "/admin/sessions",
    "sign-in": "/admin/login",
}
CHECKS = ("layout", "names", "axe")

# Visible text nodes, and the options of every select (a person opens it), without <script>/<style>; each with
# whether it sits in the <code> of a settings detail, the one place a schema key may show (in small print), and
# whether in the <code> of a command-line detail, the one place a provider's key may show (what a command takes).
VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!el || el.closest('script, style, template, [hidden]') || !node.textContent.trim()) continue;
    const option = el.closest('select:not([hidden]) option');
    if (!option && !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (!option && (style.visibility === 'hidden' || style.display === 'none')) continue;
    out.push([node.textContent.trim(), !!el.closest('.settings-detail code'), !!el.closest('.cli-detail code')]);
  }
  return out;
}"""

# Block-level elements with their own text whose content is wider than their box, and which do not scroll.
CLIPPED = """() => {
  const found = [];
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('svg, .visually-hidden, .skip')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'inline' || el.clientWidth === 0) continue;
    const box = el.getBoundingClientRect();  // off screen until focused (the skip link)
    if (box.right <= 0 || box.bottom <= 0) continue;
    if (['auto', 'scroll'].includes(style.overflowX)) continue;
    if (el.scrollWidth > el.clientWidth + 1) {
      found.push(`${el.tagName.toLowerCase()}.${el.className}: ${el.textContent.trim().slice(0, 40)}`);
    }
  }
  return found;
}"""

# Words a line break cuts in two ("admin@example.c / om"): a text node with no space, hyphen or slash (where a
# break is natural) laid out on more than one line. A <wbr> splits a text node where a break reads well.
BROKEN_WORDS = """() => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement, text = node.textContent.trim();
    if (!el || text.length < 2 || /[\\s\\-\\/]/.test(text)) continue;
    if (el.closest('script, style, svg, [hidden], .visually-hidden')) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
    if (lines.size > 1) found.push(`${el.tagName.toLowerCase()}.${el.className}: ${text.slice(0, 40)}`);
  }
  return found;
}"""


def schema_keys() -> set[str]:
    """The settings' schema keys a person could take for words: those with an underscore."""
    return {k for p in PROVIDERS.values() for k in p.settings_schema["properties"] if "_" in k}


def pattern(words: set[str], extra: str | None = None) -> re.Pattern[str]:
    alternatives = [re.escape(w) for w in sorted(words, key=len, reverse=True)] + ([extra] if extra else [])
    return re.compile(rf"\b(?:{'|'.join(alternatives)})\b")


ACTION_CODE = r"(?:example|job|preset|usage|token|user|session)\.(?:[a-z-]+)(?<!\.com)(?<!\.org)"


def internal_names_shown(page) -> list[str]:
    """Audit action codes anywhere a person reads, provider keys outside the <code> of a command-line detail
    (the Providers page gives each provider's key for `flask providers …`), schema keys outside the <code> of a
    settings detail."""
    anywhere, keys, outside_settings = pattern(set(), ACTION_CODE), pattern(set(PROVIDERS)), pattern(schema_keys())
    found: set[str] = set()
    for text, in_settings_code, in_cli_code in page.evaluate(VISIBLE_TEXT):
        found.update(anywhere.findall(text))
        if not in_cli_code:
            found.update(keys.findall(text))
        if not in_settings_code:
            found.update(outside_settings.findall(text))
    return sorted(found)


def cases():
    for name in PAGES:
        for width in (DESKTOP, PHONE):
            for check in CHECKS:
                yield pytest.param(name, width, check, id=f"{name}-{width['width']}-{check}")


@pytest.fixture(scope="module")
def live(pg_database, tmp_path_factory):
    """One live stack for the module: its tests only read pages (and sign in), so they share the stack and
    its seed instead of building both 96 times."""
    with live_stack(pg_database, tmp_path_factory.mktemp("every-page")) as stack:
        yield stack


@pytest.fixture(scope="module")
def seeded(live):
    """A preset with examples and a job, 20 presets with two months of history, and audit events of each kind,
    recorded as the app records them."""
    preset_id, example_ids = seed_gallery(live)
    seed_history(live.app)

    def the_job_and_events():
        job_id = db.session.scalar(select(Job.id).where(Job.preset_id == preset_id))
        about = "preset Film Noir"
        record(ADMIN_EMAIL, "preset.update", about, preset_id=preset_id)
        record(ADMIN_EMAIL, "example.approve", about, "2 examples", preset_id=preset_id, subjects=example_ids[:2])
        record(ADMIN_EMAIL, "job.cancel", f"job {job_id}", preset_id=preset_id, subjects=[job_id])
        record(ADMIN_EMAIL, "usage.release", about, "model female_03", preset_id=preset_id, subjects=["female_03"])
        record("cli:curator", "token.create", "token ci-bot", "never expires")
        db.session.commit()
        return job_id

    job_id = live.query(the_job_and_events)
    comparison_id, vote_id = seed_comparison(live, preset_id)
    return {
        "preset": preset_id,
        "example": example_ids[0],
        "job": job_id,
        "comparison": comparison_id,
        "vote": vote_id,
    }


def seed_comparison(live, preset_id: str) -> tuple[str, int]:
    """A finished comparison of the preset (3 variants x 4 models, one reference photo not cached), one vote on
    it, and its start in the activity log."""
    prompt = "Black and white film noir portrait, hard key light"
    variants = [
        ("NANO_BANANA", {}, prompt, True),
        ("FLUX_KONTEXT", {"output_format": "png", "safety_tolerance": 2}, prompt, False),
        ("NANO_BANANA", {"aspect_ratio": "1:1"}, "Soft window light, plain backdrop, a calm look", False),
    ]
    comparison_id, paths = factories.comparison(
        live.app, preset_id, variants, ["female_03", "male_07", "female_11", "male_02"], by=ADMIN_EMAIL
    )
    storage = services_of(live.app).storage
    for n, path in enumerate(sorted(paths.values())):
        storage.save_bytes(path, picture(f"CELL {n}", (30 + n * 15, 60, 90)))

    vote_id = factories.vote(live.app, comparison_id, "male_07", "left", voter=ADMIN_EMAIL)

    def its_start_in_the_log():
        record(
            ADMIN_EMAIL,
            "comparison.create",
            "preset Film Noir",
            "3 variants",
            preset_id=preset_id,
            subjects=[comparison_id],
        )
        db.session.commit()

    live.query(its_start_in_the_log)
    return comparison_id, vote_id


@pytest.fixture(scope="module")
def signed_in(browser, live) -> list:
    """The admin's session cookie, signed in once for the module (each test's page gets it)."""
    context = browser.new_context(viewport=DESKTOP, base_url=live.url)
    sign_in(context.new_page())
    cookies = context.cookies()
    context.close()
    return cookies


@pytest.mark.parametrize(("name", "width", "check"), list(cases()))
def test_every_page(page, seeded, signed_in, name, width, check):
    page.set_viewport_size(width)
    if name != "sign-in":
        page.context.add_cookies(signed_in)
    page.goto(PAGES[name].format(**seeded))
    page.wait_for_load_state("networkidle")
    if check == "layout":
        screenshot(page, f"every-{name}")
        assert no_horizontal_overflow(page), f"{name} scrolls sideways at {width['width']} px"
        assert page.evaluate(CLIPPED) == [], f"clipped text on {name} at {width['width']} px"
        assert page.evaluate(BROKEN_WORDS) == [], f"a word cut by a line break on {name} at {width['width']} px"
        if name == "preset":  # its gallery has cards: the note for an empty one is not shown beside them
            assert page.locator(".gallery-empty").is_hidden()
    elif check == "names":
        assert internal_names_shown(page) == [], f"internal names shown on {name}"
    else:
        assert axe_violations(page) == [], f"axe on {name} at {width['width']} px"


CAUGHT = """<!doctype html><html lang="en"><body>
<p>Made by <span>FLUX_KONTEXT</span> for admin@example.com</p>
<select aria-label="Provider"><option>Nano Banana</option><option>NANO_BANANA</option></select>
<p>curator example.approve 3 examples</p>
<p>Aspect ratio <code>aspect_ratio</code></p>
<p><code>FLUX_PRO</code></p>
<p hidden>STABLE_DIFFUSION safety_tolerance</p>
<ul class="settings-detail"><li>Output format: <strong>png</strong> <small><code>output_format</code></small></li></ul>
<p class="cli-detail">Stable Diffusion img2img <small><code>STABLE_DIFFUSION</code></small></p>
<div style="width: 120px; white-space: nowrap; overflow: hidden">A sentence far too long for its narrow box</div>
<div style="width: 120px; white-space: nowrap; overflow-x: auto">A scroll region may be as wide as it likes</div>
<p style="width: 90px; overflow-wrap: anywhere">curator@example.com</p>
<p style="width: 90px; overflow-wrap: anywhere">curator@<wbr>example.com</p>
</body></html>"""


def test_the_checks_find_an_enum_an_action_code_a_key_clipped_text_and_a_cut_word(browser):
    """The checks can fail: enums and action codes shown anywhere (an option, a <code> too), a schema key
    outside a settings detail, a provider key outside a command-line detail's <code>, clipped text and an email cut
    inside its domain are found; hidden text, a schema key in a settings detail's <code>, a provider key in a
    command-line detail's <code>, an email address, a scroll region and a break after the "@" are not."""
    page = browser.new_page(viewport=PHONE)
    try:
        page.set_content(CAUGHT)
        assert internal_names_shown(page) == [
            "FLUX_KONTEXT",
            "FLUX_PRO",
            "NANO_BANANA",
            "aspect_ratio",
            "example.approve",
        ]
        assert page.evaluate(CLIPPED) == ["div.: A sentence far too long for its narrow b"]
        assert page.evaluate(BROKEN_WORDS) == ["p.: curator@example.com"]
        assert no_horizontal_overflow(page)
        page.set_content('<div style="width: 2000px">wide</div>')
        assert not no_horizontal_overflow(page)
    finally:
        page.close()
