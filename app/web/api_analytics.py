"""GET /api/admin/analytics: the analytics report as JSON, the same numbers as the page and its CSV files."""

from __future__ import annotations

from flask import jsonify, request

from app.web.analytics_data import period_of, report_for
from app.web.api import bp
from app.web.auth import admin_required


@bp.get("/analytics")
@admin_required
def analytics():
    """`?from=&to=` (UTC dates, both included; default the last 90 days); 400 naming a value that is not a date."""
    return jsonify(success=True, **report_for(period_of(request.args)))
