"""axe-core's WCAG 2 A/AA rules run on a page in Chromium (through axe-playwright-python, which bundles axe)."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def axe_violations(page) -> list[str]:
    """One line per violated rule: its id, what it means and the first few elements that break it."""
    results = Axe().run(page, options=WCAG_AA)
    found = []
    for violation in results.response["violations"]:
        targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
        found.append(f"{violation['id']}: {violation['help']} ({len(violation['nodes'])}×, e.g. {targets})")
    return found
