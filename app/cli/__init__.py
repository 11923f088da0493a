"""`flask --app wsgi …` commands: usage, models, presets, users, tokens, providers, jobs, media, generate, compare,
demo, doctor.

One module per command group; `common` holds what they share. `init_app` registers them all.
"""

from __future__ import annotations

from flask import Flask

from app.cli.compare import compare
from app.cli.demo import demo
from app.cli.doctor import doctor
from app.cli.generate import generate
from app.cli.jobs import jobs_cli
from app.cli.media import media_cli
from app.cli.media_migrate import media_migrate
from app.cli.presets import presets_cli
from app.cli.provider_refresh import providers_refresh
from app.cli.provider_rows import providers_add, providers_list, providers_retire, providers_show
from app.cli.provider_states import providers_disable, providers_enable
from app.cli.providers import providers_cli
from app.cli.references import models_cache
from app.cli.registry import models_cli
from app.cli.registry_sync import models_sync
from app.cli.tokens import tokens_cli
from app.cli.usage import usage_cli
from app.cli.users import users_cli

__all__ = [
    "compare",
    "demo",
    "doctor",
    "generate",
    "init_app",
    "jobs_cli",
    "media_cli",
    "models_cli",
    "presets_cli",
    "providers_cli",
    "tokens_cli",
    "usage_cli",
    "users_cli",
]


def init_app(app: Flask) -> None:
    models_cli.add_command(models_cache)  # `models cache` and `models sync`: their own modules, the group stays
    models_cli.add_command(models_sync)  # in `registry`
    media_cli.add_command(media_migrate)  # `media migrate`: its own module, next to `media thumbnails`
    for command in (
        providers_add,
        providers_list,
        providers_show,
        providers_retire,
        providers_enable,
        providers_disable,
    ):
        providers_cli.add_command(command)  # the provider rows: their own module, next to `providers schemas`
    providers_cli.add_command(providers_refresh)  # one row's schema read again, saved on confirmation
    for command in (
        usage_cli,
        models_cli,
        media_cli,
        presets_cli,
        users_cli,
        tokens_cli,
        providers_cli,
        jobs_cli,
        generate,
        compare,
        demo,
        doctor,
    ):
        app.cli.add_command(command)
