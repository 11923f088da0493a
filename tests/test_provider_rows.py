"""Providers are rows (issue 35): the seed's four move into the `providers` table and back without losing a
preset's provider or settings; the code reads them per request."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from app import provider_rows
from app.core.database import db
from app.models import Preset, ProviderRow
from app.providers.catalog import PROVIDERS


def test_the_migration_moves_the_seed_into_rows_and_back_keeping_every_preset(make_app):
    app = make_app(database="sqlite")
    with app.app_context():
        rows = {row.key: row for row in db.session.scalars(select(ProviderRow))}
        assert list(rows) == list(PROVIDERS)
        for key, code in PROVIDERS.items():
            read = provider_rows.as_provider(rows[key])
            assert read.settings_schema == code.settings_schema, key
            assert (read.model, read.image_field, read.image_as_list, read.defaults, read.managed, read.by_version) == (
                code.model,
                code.image_field,
                code.image_as_list,
                code.defaults,
                code.managed,
                code.by_version,
            ), key
            assert read.display_name == code.display_name and read.description == code.description
        kept = {key: {"seed": n} for n, key in enumerate(PROVIDERS)}
        db.session.add_all(Preset(name=key, prompt="p", provider=key, settings=kept[key]) for key in PROVIDERS)
        db.session.commit()
        downgrade(revision="-1")
        assert "providers" not in inspect(db.engine).get_table_names()
        upgrade()
        db.session.expire_all()
        presets = {p.name: (p.provider, p.settings) for p in db.session.scalars(select(Preset))}
        assert presets == {key: (key, kept[key]) for key in PROVIDERS}
        assert list(provider_rows.all_providers()) == list(PROVIDERS)


def test_a_provider_key_longer_than_32_characters_fits(admin_app):
    key = "A_PROVIDER_KEY_OF_FORTY_EIGHT_CHARACTERS_OR_MORE_"
    with admin_app.app_context():
        db.session.add(Preset(name="Long key", prompt="p", provider=key, settings={}))
        db.session.commit()
        assert db.session.scalar(select(Preset.provider).where(Preset.name == "Long key")) == key
