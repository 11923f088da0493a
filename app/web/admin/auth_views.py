"""Sign in and sign out. The login page is the only admin page open to anonymous visitors."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from ...database import db
from ...models import utcnow
from ...users import verify_credentials
from ..auth import sign_in, sign_out

bp = Blueprint("admin_auth", __name__)


def safe_next(target: str | None) -> str:
    """Only our own admin pages: never another host, never a protocol-relative URL."""
    if target and target.startswith("/admin") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("admin_presets.presets")


@bp.get("/")
def root():
    return redirect(url_for("admin_presets.presets"))


@bp.route("/admin/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET" and g.get("auth") == "session":
        return redirect(next_url)
    error = None
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "")
        user = verify_credentials(email, request.form.get("password", ""))
        if user is not None:
            user.last_login_at = utcnow()
            db.session.commit()
            sign_in(user)
            return redirect(next_url, 303)
        error = "That email and password do not match an admin account."
    status = 401 if error else 200
    return render_template("admin/login.html", error=error, email=email, next_url=next_url), status


@bp.post("/admin/logout")
def logout():
    sign_out()
    flash("You are signed out.", "info")
    return redirect(url_for("admin_auth.login"), 303)
