"""The current app's services, typed, for request handlers."""

from __future__ import annotations

from flask import current_app

from app.services import Services, services_of


def services() -> Services:
    return services_of(current_app)
