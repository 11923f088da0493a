"""Two trivial signed-in answers, registered on the benchmarks' apps only (never in app/). Both pass the admin
sign-in (session cookie, the admin's row looked up) and get the security headers:

- `/admin/bench-ping`: then "ok" as text, no template. Benchmark 4's floor for its htmx fragment.
- `/admin/bench-blank`: then a page in the admin's layout (base.html: navigation, the signed-in admin, the
  CSRF token, messages) with one heading and one sentence and nothing looked up for it. Benchmark 9's trivial
  page: what any full admin page costs before its own content.

No imports from tests/ here: tests/conftest.py rewrites the environment when imported."""

from flask import render_template

BLANK = """{% extends "base.html" %}{% block title %}Blank{% endblock %}
{% block content %}<h1>Blank</h1><p>A trivial page: the admin's layout and nothing else.</p>{% endblock %}"""


def add_ping(flask_app):
    def bench_ping():
        return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}

    blank = flask_app.jinja_env.from_string(BLANK)  # compiled once, as a file template is

    def bench_blank():
        return render_template(blank)

    flask_app.add_url_rule("/admin/bench-ping", "bench_ping", bench_ping, methods=["GET"])
    flask_app.add_url_rule("/admin/bench-blank", "bench_blank", bench_blank, methods=["GET"])
    return flask_app
