"""GET /api/admin/analytics: the analytics report as JSON, the same numbers as the page and its CSV files."""

from __future__ import annotations

from flask import jsonify, request

from app.analytics import period_of, report_for
from app.web.api.common import api_blueprint
from app.web.auth import admin_required
from app.web.context import services

bp = api_blueprint("api_analytics", __name__)


@bp.get("/analytics")
@admin_required
def analytics():
    """`?from=&to=` (UTC dates, both included; default the last 90 days); 400 naming a value that is not a date."""
    return jsonify(success=True, **report_for(period_of(request.args), services().registry()))
