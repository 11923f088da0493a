"""This year's six models as migration 0020 ships them (turned off), for tests on PostgreSQL, whose rows
`make_app` resets to the seed's four: `add_shipped` writes the migration's own rows again."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from app.core.database import db
from app.models import ProviderRow

ROOT = Path(__file__).resolve().parents[1]
MIGRATION = ROOT / "migrations" / "versions" / "0020_this_years_models.py"


def migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_0020", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SHIPPED: tuple[str, ...] = migration().KEYS


def snapshot(key: str) -> dict:
    return json.loads((ROOT / "app" / "providers" / "schemas" / f"{key}.json").read_text(encoding="utf-8"))


def add_shipped() -> None:
    """The six rows, turned off, as the migration writes them (the caller commits)."""
    shipped = migration()
    for key in shipped.KEYS:
        db.session.add(ProviderRow(**shipped.shipped_row(key)))
    db.session.flush()
    db.session.info.pop("providers", None)
