"""What generation cost and gave: this month's spend against its budget (`GET /api/admin/spend`) and the analytics
report (`GET /api/admin/analytics`), the same numbers as the pages and their CSV files."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from app.analytics import period_of, report_for
from app.spend import ledger
from app.web.api.common import api_blueprint
from app.web.auth import admin_required
from app.web.context import services

bp = api_blueprint("api_reports", __name__)


@bp.get("/analytics")
@admin_required
def analytics() -> ResponseReturnValue:
    """`?from=&to=` (UTC dates, both included; default the last 90 days); 400 naming a value that is not a date."""
    return jsonify(success=True, **report_for(period_of(request.args), services().registry()))


@bp.get("/spend")
@admin_required
def month_spend() -> ResponseReturnValue:
    """This UTC month's spend and reservations against SPEND_LIMIT_PER_MONTH_USD."""
    return jsonify(success=True, **ledger.month_json(services().settings))
