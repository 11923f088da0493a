"""Every rule of the app's URL map with each method, as pytest params: built once, at collection, for the
security and fuzzing tests that walk every route."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

from app import create_app
from app.core.config import load_settings
from app.tasks import enqueue_job
from tests.conftest import base_env

SAMPLE_VALUES = {"filename": "admin.css", "key": "examples/p/j/m-0.png"}


def _rules():
    """Every rule of the URL map with each of its methods (the app built once, at collection)."""
    with tempfile.TemporaryDirectory(prefix="pixelglow-urlmap-") as tmp:
        instance = Path(tmp)
        app = create_app(
            load_settings(base_env(instance, DATABASE_URL=f"sqlite:///{instance / 'x.sqlite3'}")), enqueue=enqueue_job
        )
    cases = []
    for rule in app.url_map.iter_rules():
        url = rule.rule
        for arg in rule.arguments:
            url = re.sub(rf"<(?:[a-z]+:)?{arg}>", SAMPLE_VALUES.get(arg, "abc123"), url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            cases.append(pytest.param(rule.endpoint, method, url, id=f"{method} {rule.rule}"))
    return cases


RULES = _rules()
