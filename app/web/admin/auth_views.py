"""Sign in and sign out, one's own sessions and password. The login page is the only admin page open to
anonymous visitors; its POST is throttled (`app.web.throttle`). Sign-ins, failures and lock-outs are logged with
the account and the client address, never a password. An admin whose password breaks today's rule (an account
made before it) signs in as usual and is sent to change it."""

from __future__ import annotations

import logging
from typing import Any, cast

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.accounts.audit import KINDS, PER_PAGE, activity_page, actors, record
from app.accounts.sessions import prune_expired, revoke_user_sessions, user_sessions
from app.accounts.users import MIN_PASSWORD, find_user, password_problem, verify_credentials
from app.core.database import db
from app.models import Preset, utcnow
from app.web.admin import activity_sentences
from app.web.auth import local_admin_path, sign_in, sign_out
from app.web.sessions import timeouts as session_timeouts
from app.web.throttle import account_key, client_address

log = logging.getLogger(__name__)
bp = Blueprint("admin_auth", __name__)


def safe_next(target: str | None) -> str:
    """Only our own admin pages: never another host, never a protocol-relative URL, never CR/LF."""
    return local_admin_path(target) or url_for("admin_presets.presets")


@bp.get("/")
def root() -> ResponseReturnValue:
    return redirect(url_for("admin_presets.presets"))


@bp.route("/admin/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET" and g.get("auth") == "session":
        return redirect(next_url)
    error = None
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "")
        password = request.form.get("password", "")
        user = verify_credentials(email, password)
        if user is not None:
            user.last_login_at = utcnow()
            prune_expired(*session_timeouts())
            db.session.commit()
            sign_in(user)
            log.info("sign-in: %s from %s", user.email, client_address())
            problem = password_problem(password, user.email)
            if problem is not None:  # set before today's rule: signed in all the same, and asked to change it
                flash(f"Please choose a new password: yours is no longer accepted. {problem}", "error")
                return redirect(url_for("admin_auth.change_password", next=next_url), 303)
            return redirect(next_url, 303)
        known = find_user(email)
        who = known.email if known is not None else "an unknown account"
        log.warning("sign-in failed: %s (account key %s) from %s", who, account_key(), client_address())
        error = "That email and password do not match an admin account."
    status = 401 if error else 200
    return render_template("admin/login.html", error=error, email=email[:254], next_url=next_url), status


@bp.post("/admin/logout")
def logout() -> ResponseReturnValue:
    if g.get("user") is not None:
        log.info("sign-out: %s", g.user.email)
    sign_out()
    flash("You are signed out.", "info")
    return redirect(url_for("admin_auth.login"), 303)


@bp.get("/admin/sessions")
def sessions() -> ResponseReturnValue:
    """The signed-in admin's active sessions (an API token has none)."""
    rows = user_sessions(g.user.id, *session_timeouts()) if g.get("user") is not None else []
    idle, lifetime = (delta.total_seconds() for delta in session_timeouts())
    return render_template(
        "admin/sessions.html",
        rows=rows,
        current=cast(Any, session).row_id,
        idle=idle,
        lifetime=lifetime,
    )


@bp.post("/admin/sessions/revoke-all")
def revoke_all() -> ResponseReturnValue:
    """Sign out everywhere: every session of this admin ends, this one included."""
    if g.get("user") is None:
        flash("Only a signed-in admin has sessions to end.", "error")
        return redirect(url_for("admin_auth.sessions"), 303)
    ended = revoke_user_sessions(g.user.id)
    db.session.commit()
    log.info("signed out everywhere: %s (%d sessions)", g.user.email, ended)
    sign_out()
    flash(f"Signed out everywhere: {ended} sessions ended.", "info")
    return redirect(url_for("admin_auth.login"), 303)


@bp.route("/admin/password", methods=["GET", "POST"])
def change_password() -> ResponseReturnValue:
    """The signed-in admin's own password: the current one, then the new one twice. Their other sessions end."""
    user = g.get("user")
    if user is None:
        flash("Only a signed-in admin has a password to change (an API token has none).", "error")
        return redirect(url_for("admin_auth.sessions"), 303)
    next_url = safe_next(request.values.get("next"))
    error = None
    if request.method == "POST":
        current = request.form.get("current_password", "")
        new = request.form.get("new_password", "")
        if not user.check_password(current):
            error = "The current password is wrong."
        elif new != request.form.get("new_password_again", ""):
            error = "The two new passwords differ: type the same one twice."
        elif new == current:
            error = "The new password is the current one: choose another."
        else:
            error = password_problem(new, user.email)
        if error is None:
            user.set_password(new)
            ended = revoke_user_sessions(user.id, keep=cast(Any, session).row_id)
            record(g.actor, "user.change-password", user.email, f"{ended} other sessions ended")
            db.session.commit()
            sign_in(user)  # the admin stays signed in here, under a new token (the password's stamp changed)
            log.info("password changed: %s (%d other sessions ended)", user.email, ended)
            flash(f"Your password is changed; {ended} other sessions are signed out.", "info")
            return redirect(next_url, 303)
    return render_template(
        "admin/password.html", error=error, next_url=next_url, min_length=MIN_PASSWORD
    ), 400 if error else 200


@bp.get("/admin/activity")
def activity() -> ResponseReturnValue:
    """The audit trail as sentences with links: who changed, curated, canceled or deleted what, filtered by
    preset, person and kind, a page at a time."""
    wanted = activity_sentences.parse_filter(request.args)
    events, total = activity_page(wanted)
    presets = db.session.execute(select(Preset.id, Preset.name).order_by(Preset.name)).all()
    return render_template(
        "admin/activity.html",
        lines=activity_sentences.lines(events),
        total=total,
        wanted=wanted,
        pages=max(1, -(-total // PER_PAGE)),
        presets=presets,
        actors=actors(),
        kinds=KINDS,
    )
