"""Analytics: which reference models, providers and presets give the best examples, over a date range.

What each figure means (the page's "How these are counted" says the same):

- **examples**: gallery examples stored in the range (by `gallery_examples.created_at`), in every state.
- **approval rate** = (approved + featured) / reviewed examples, reviewed meaning approved, featured or
  rejected; unreviewed examples do not count. "—" (None) when none of them was reviewed.
- **failure rate** = failed items / ended items of the jobs created in the range, ended meaning succeeded or
  failed. Canceled items are left out (a cancel is the admin's choice, not the model's outcome); "—" when
  none ended.
- **time to result**: `prediction_seconds` of the succeeded items (create → completion, by Replicate's clock);
  median and p95 interpolate linearly between ranks (PostgreSQL's `percentile_cont`).
- **spend**: the ledger's entries recorded in the range (when each prediction ended), in USD.
- **presets that used a model** and **pool coverage** are the two margins of the usage table, now, whatever
  the range (usage is a state: a model is `used` by a preset once it got an example there, until released or
  cleared): the presets that have used the model; the models the preset has used / the registry's size (72),
  counting only models still in the registry.
- **weeks**: ISO weeks (Monday to Sunday, UTC); the first and last may hold only the range's days.

A deleted preset's examples and items are gone with it (they cascade), but its spend stays in the ledger:
it counts in the provider, week and total figures, and has no row of its own among the presets.
"""

from __future__ import annotations

from app.analytics.period import AnalyticsError, Period, parse_period, period_of
from app.analytics.report import build_report, report_for

__all__ = ["AnalyticsError", "Period", "build_report", "parse_period", "period_of", "report_for"]
