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
from tests.analytics_seed import seed_history
from tests.browser.axe import axe_violations
from tests.browser.conftest import DESKTOP, PHONE, no_horizontal_overflow, screenshot, sign_in
from tests.browser.gallery_seed import seed_gallery
from tests.conftest import ADMIN_EMAIL

PAGES = {
    "presets": "/admin/presets",
    "preset": "/admin/presets/{preset}",
    "new-preset": "/admin/presets/new",
    "edit-preset": "/admin/presets/{preset}/edit",
    "example": "/admin/presets/{preset}/examples/{example}",
    "jobs": "/admin/jobs",
    "job": "/admin/jobs/{job}",
    "analytics": "/admin/analytics?from=2026-09-01&to=2026-10-31",
    "providers": "/admin/providers",
    "activity": "/admin/activity",
    "sessions": "/admin/sessions",
    "sign-in": "/admin/login",
}
# Checks that fail only because another part of issue 33 has not landed yet (the coordinator removes these).
LANDS_WITH: dict[tuple, str] = {
    ("preset", "names"): "provider enums on the preset page land with #33b (display names)",
    ("new-preset", "names"): "provider enums and schema keys on the form land with #33b (display names)",
    ("edit-preset", "names"): "provider enums and schema keys on the form land with #33b (display names)",
    ("example", "names"): "provider enums on the example view land with #33b (display names)",
    ("jobs", "names"): "provider enums on the jobs list land with #33b (display names)",
    ("job", "names"): "provider enums on the job page land with #33b (display names)",
    ("analytics", "names"): "provider enums in the analytics tables land with #33b (display names)",
    ("presets", "names"): "provider enums on the presets list land with #33b (display names)",
    ("activity", "names"): "action codes on the activity page land with #33a (activity sentences)",
    ("activity", "layout", 390): "full UUIDs clipped in activity rows at 390 px land with #33a (activity sentences)",
}
CHECKS = ("layout", "names", "axe")

# Text nodes outside <code>/<script>/<style>, visible ones only, joined by newlines.
VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!el || el.closest('code, script, style, template, [hidden]')) continue;
    if (!node.textContent.trim() || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    out.push(node.textContent.trim());
  }
  return out.join('\\n');
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


def internal_names() -> re.Pattern[str]:
    """Provider enums, audit action codes and the settings' schema keys (those with an underscore)."""
    keys = {k for p in PROVIDERS.values() for k in p.settings_schema["properties"] if "_" in k}
    actions = r"(?:example|job|preset|usage|token|user|session)\.(?:[a-z]+)(?<!\.com)(?<!\.org)"
    words = "|".join(re.escape(w) for w in sorted({*PROVIDERS, *keys}, key=len, reverse=True))
    return re.compile(rf"\b(?:{words}|{actions})\b")


def cases():
    for name in PAGES:
        for width in (DESKTOP, PHONE):
            for check in CHECKS:
                reason = LANDS_WITH.get((name, check, width["width"])) or LANDS_WITH.get((name, check))
                marks = [pytest.mark.xfail(strict=False, reason=reason)] if reason else []
                yield pytest.param(name, width, check, marks=marks, id=f"{name}-{width['width']}-{check}")


@pytest.fixture
def seeded(live):
    """A preset with examples and a job, 20 presets with two months of history, and one audit event."""
    preset_id, example_ids = seed_gallery(live)
    seed_history(live.app)

    def the_job_and_an_event():
        record(ADMIN_EMAIL, "preset.update", preset_id, "prompt")
        db.session.commit()
        return db.session.scalar(select(Job.id).where(Job.preset_id == preset_id))

    job_id = live.query(the_job_and_an_event)
    return {"preset": preset_id, "example": example_ids[0], "job": job_id}


@pytest.mark.parametrize(("name", "width", "check"), list(cases()))
def test_every_page(page, seeded, name, width, check):
    page.set_viewport_size(width)
    if name != "sign-in":
        sign_in(page)
    page.goto(PAGES[name].format(**seeded))
    page.wait_for_load_state("networkidle")
    if check == "layout":
        screenshot(page, f"every-{name}")
        assert no_horizontal_overflow(page), f"{name} scrolls sideways at {width['width']} px"
        assert page.evaluate(CLIPPED) == [], f"clipped text on {name} at {width['width']} px"
    elif check == "names":
        shown = sorted(set(internal_names().findall(page.evaluate(VISIBLE_TEXT))))
        assert shown == [], f"internal names shown on {name}: {shown}"
    else:
        assert axe_violations(page) == [], f"axe on {name} at {width['width']} px"
