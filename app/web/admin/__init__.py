"""The browser admin: server-rendered pages, htmx for the live parts; one blueprint per views module.

- `auth_views`: sign in / sign out, your sessions, the activity log, your password
- `views_presets`: presets list, create / edit / delete, the preset page
- `views_gallery`: the preset page's actions (example delete, releases, clear usage, the generate form)
- `views_curation`: the gallery's curation forms (verdicts, one or ticked, and moves); `gallery_section`
  the gallery part of the preset page (curated order, filters, pages)
- `views_example`: one example beside its reference photo (a page, or the gallery's overlay)
- `views_regenerate`: regenerate one example from its card
- `views_review`: the large view's review mode (verdict, release, delete, regenerate; the review's summary);
  `example_page` what that view shows
- `views_comparisons`: a preset's comparisons: start one, its grid (live), the blind review, adopt a variant
  (`comparison_grid` what the grid and a pair show, `comparison_form` the start form, `comparison_summary` the
  preset page's list)
- `views_jobs`: jobs list, job page, cancel and retry; `progress_fragment` the live progress they poll
- `views_providers`: the Providers page (every provider row, read-only)
- `views_analytics`: which models, providers and presets give the best examples (charts from
  `analytics_charts`, tables and CSV from `analytics_tables`)

Presenters shared by several views live in `common`, `progress_fragment` and `gallery_section`, never in a views
module.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, g
from werkzeug.wrappers import Response

from app.core.iso_time import parse_naive_utc
from app.provider_rows import display_name
from app.spend import ledger
from app.web.admin import (
    auth_views,
    views_analytics,
    views_comparisons,
    views_curation,
    views_example,
    views_gallery,
    views_jobs,
    views_presets,
    views_providers,
    views_references,
    views_regenerate,
    views_review,
)

BLUEPRINTS = (
    auth_views.bp,
    views_presets.bp,
    views_gallery.bp,
    views_curation.bp,
    views_example.bp,
    views_regenerate.bp,
    views_review.bp,
    views_comparisons.bp,
    views_jobs.bp,
    views_analytics.bp,
    views_references.bp,
    views_providers.bp,
)


def content_security_policy(image_origin: str | None = None) -> str:
    """The pages' CSP; `image_origin` is where stored images are loaded from when not from us (an S3 bucket)."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:" + (f" {image_origin}" if image_origin else ""),
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


CONTENT_SECURITY_POLICY = content_security_policy()  # with media in our own folder


def init_app(app: Flask) -> None:
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.after_request(security_headers)
    app.context_processor(layout_context)
    app.jinja_env.filters["dt"] = format_datetime
    app.jinja_env.filters["duration"] = format_duration
    app.jinja_env.filters["usd"] = ledger.money  # every amount of money on the pages
    app.jinja_env.filters["spend"] = ledger.spend_text  # a job's spend: "—", "$0.00 (offline)" or the amount
    app.jinja_env.filters["provider_name"] = display_name  # a provider's enum value as a person reads it


def security_headers(response: Response) -> Response:
    headers = response.headers
    services = current_app.extensions.get("pixelglow")  # absent only on error pages of a half-built app
    headers.setdefault("Content-Security-Policy", content_security_policy(services and services.storage.url_origin))
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")
        headers.add("Vary", "HX-Request")
    return response


def layout_context() -> dict:
    services = current_app.extensions.get("pixelglow")  # absent only on error pages of a half-built app
    return {
        "offline_mode": bool(services and services.settings.offline),
        "current_user": g.get("user"),
        # models.json broken since it loaded: every page says so, and what generation uses meanwhile
        "registry_problem": services.registry_problem() if services else None,
        "registry_in_use": services.registry_file.last_good if services else None,
    }


def format_datetime(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        parsed = parse_naive_utc(value)
        if parsed is None:
            return value
        value = parsed
    return value.strftime("%Y-%m-%d %H:%M UTC")


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
