"""The analytics report a request asks for (`?from=YYYY-MM-DD&to=YYYY-MM-DD`), shared by the page, its CSV
files and the API, so all three are made by the same call."""

from __future__ import annotations

from collections.abc import Mapping

from app.analytics import Period, build_report, parse_period
from app.models import utcnow
from app.providers.catalog import PROVIDERS
from app.web.context import services


def period_of(args: Mapping[str, str]) -> Period:
    """The asked range (UTC days, both included; the last 90 days by default), or a 400 naming the value."""
    return parse_period(args.get("from") or None, args.get("to") or None, utcnow().date())


def report_for(period: Period) -> dict:
    registry = services().registry()
    return build_report(period, [(m.id, m.gender) for m in registry.all], list(PROVIDERS))
