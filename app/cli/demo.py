"""`flask --app wsgi demo`: the demo preset and the demo admin, for a first run."""

from __future__ import annotations

import hashlib
import hmac

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app.accounts.users import create_user, find_user, password_problem
from app.cli.common import services
from app.core.database import db
from app.models import Preset
from app.presets.rules import apply_preset_fields

DEMO_PRESET = {
    "name": "Professional Headshot",
    "prompt": "Professional corporate headshot of this person, soft studio lighting, neutral grey background, "
    "sharp focus, business attire, 85mm lens",
    "provider": "NANO_BANANA",
    "settings": {"aspect_ratio": "match_input_image", "output_format": "jpg"},
}
DEMO_ADMIN_EMAIL = "admin@example.com"


def demo_admin_password() -> str:
    """Derived from SECRET_KEY, so running `demo` again prints the same password without storing it: the first
    derivation the password rule accepts (almost always the first of all, so older demo passwords still work)."""
    secret = current_app.config["SECRET_KEY"].encode()
    label, attempt = b"pixelglow-demo-admin", 0
    while True:
        password = hmac.new(secret, label + (b"-%d" % attempt if attempt else b""), hashlib.sha256).hexdigest()[:20]
        if password_problem(password, DEMO_ADMIN_EMAIL) is None:
            return password
        attempt += 1


def ensure_demo_admin() -> None:
    if services().settings.is_production:
        click.echo("Demo admin not created in production: use `flask --app wsgi users create EMAIL`.")
        return
    password = demo_admin_password()
    user = find_user(DEMO_ADMIN_EMAIL)
    if user is None:
        create_user(DEMO_ADMIN_EMAIL, password)
        db.session.commit()
        click.echo(f"Created demo admin: email {DEMO_ADMIN_EMAIL}  password {password}")
    elif user.check_password(password):
        click.echo(f"Demo admin exists: email {DEMO_ADMIN_EMAIL}  password {password}")
    else:
        click.echo(
            f"Demo admin {DEMO_ADMIN_EMAIL} exists with a changed password "
            f"(reset it with `flask --app wsgi users set-password {DEMO_ADMIN_EMAIL}`)."
        )


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Create the demo preset and the demo admin (idempotent); used by the first-run command."""
    preset = db.session.scalar(select(Preset).where(Preset.name == DEMO_PRESET["name"]))
    if preset is None:
        preset = Preset()
        apply_preset_fields(preset, DEMO_PRESET, creating=True)
        db.session.add(preset)
        db.session.commit()
        click.echo(f'Created demo preset "{preset.name}" ({preset.id})')
    else:
        click.echo(f'Demo preset "{preset.name}" exists ({preset.id})')
    ensure_demo_admin()
