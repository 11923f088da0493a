"""`/admin/bench-ping`: a trivial page behind the admin sign-in (session cookie, the admin's row looked up,
security headers), then "ok". Benchmark 4's floor, registered on the benchmark's apps only (never in app/).
No imports from tests/ here: tests/conftest.py rewrites the environment when imported."""


def add_ping(flask_app):
    def bench_ping():
        return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}

    flask_app.add_url_rule("/admin/bench-ping", "bench_ping", bench_ping, methods=["GET"])
    return flask_app
