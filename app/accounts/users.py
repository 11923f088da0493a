"""Admin accounts: an email and a hashed password (werkzeug's scrypt), nothing more.

The session stores the user's id and a stamp derived from the password hash, so a
password change signs out every other session of that user.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import string
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import String, func, select, true
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app.core.database import Model, db
from app.models import new_id, utcnow

MIN_PASSWORD = 12
MIN_DISTINCT_CHARACTERS = 5
MAX_EMAIL = 254
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")  # its header says where it comes from
AROUND_A_WORD = string.digits + string.punctuation + string.whitespace  # "Password2024!" is "password"


@functools.cache
def _dummy_hash() -> str:
    """Compared against when the email is unknown, so a wrong email costs as long as a wrong password.

    Made on first use: scrypt takes 32 MiB and ~0.1 s, which a worker process should not pay at import."""
    return generate_password_hash("not-a-real-password-0000")


class UserError(ValueError):
    """An email or password that cannot be accepted; the message says why."""


class User(Model):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(MAX_EMAIL), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]  # a disabled admin cannot sign in; their sessions are ended
    # The review view's single-key shortcuts (A, F, R, U): on unless the admin turned them off (WCAG 2.1.4).
    review_keys: Mapped[bool] = mapped_column(default=True, server_default=true())

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def set_password(self, password: str) -> None:
        check_password_rules(password, self.email)
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def session_stamp(self) -> str:
        """Changes whenever the password does."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not email or "@" not in email or len(email) > MAX_EMAIL or any(c.isspace() for c in email):
        raise UserError(f"{email!r} is not an email address.")
    return email


@functools.cache
def common_passwords() -> frozenset[str]:
    """The common passwords shipped with the app, read on first use (no network: the list is a file)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def password_problem(password: Any, email: str | None = None) -> str | None:
    """Why `password` is refused for the admin `email`, or None when it is good enough.

    The one password rule: every way of setting a password checks it (`users create` and `set-password`, `demo`,
    the change-password page), and sign-in asks an admin whose old password breaks it to choose another."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        return f"The password must be at least {MIN_PASSWORD} characters long."
    if password.isspace():
        return "The password must not be only spaces."
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        return f"The password must use at least {MIN_DISTINCT_CHARACTERS} different characters, not one repeated."
    lowered = password.lower()
    core = lowered.strip(AROUND_A_WORD)
    if email and email.strip().lower() in (lowered, core):
        return "The password must not be the email address."
    if lowered in common_passwords() or core in common_passwords():
        return "That is one of the most common passwords (digits or symbols around it do not help): choose another."
    return None


def check_password_rules(password: str, email: str | None = None) -> None:
    problem = password_problem(password, email)
    if problem is not None:
        raise UserError(problem)


def find_user(email: str) -> User | None:
    try:
        email = normalise_email(email)
    except UserError:
        return None
    return db.session.scalar(select(User).where(func.lower(User.email) == email))


def create_user(email: str, password: str) -> User:
    email = normalise_email(email)
    if find_user(email) is not None:
        raise UserError(f"An admin with the email {email} already exists.")
    user = User(email=email)
    user.set_password(password)
    db.session.add(user)
    return user


def verify_credentials(email: str, password: str) -> User | None:
    user = find_user(email)
    if user is None:
        check_password_hash(_dummy_hash(), password or "")
        return None
    matches = user.check_password(password or "")  # checked even when disabled: the same time either way
    return user if matches and not user.disabled else None


def disable_user(user: User) -> None:
    """The admin can no longer sign in (their sessions are ended by the caller, see app.sessions)."""
    if user.disabled_at is None:
        user.disabled_at = utcnow()


def user_for_session(user_id: Any, stamp: Any) -> User | None:
    """The signed-in user, if the id still exists and the password has not changed since sign-in."""
    if not isinstance(user_id, str) or not isinstance(stamp, str):
        return None
    user = db.session.get(User, user_id)
    if user is None or user.disabled or not hmac.compare_digest(user.session_stamp, stamp):
        return None
    return user
