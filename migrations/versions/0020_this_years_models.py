"""this year's six Replicate image models, shipped as provider rows, turned off

nano-banana-2, nano-banana-pro, flux-2-pro, flux-kontext-max, seedream-4 and qwen-image-edit-plus: each a row
with its schema snapshot (app/providers/schemas/<KEY>.json, with its source, date and notes), its reference field,
defaults and price rule (the file's "provider" block). They ship in the state "disabled": an admin turns each on
deliberately (`flask --app wsgi providers enable KEY`). Downgrade deletes the six rows (a preset cannot use a
turned-off provider, so none refers to one unless an admin turned it on; such a preset keeps its key and settings
and is asked to switch, as for a retired provider).

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-06 21:10:00

"""
import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0020'
down_revision = '0018'
branch_labels = None
depends_on = None

SNAPSHOTS = Path(__file__).resolve().parents[2] / 'app' / 'providers' / 'schemas'
KEYS = ('NANO_BANANA_2', 'NANO_BANANA_PRO', 'FLUX_2_PRO', 'FLUX_KONTEXT_MAX', 'SEEDREAM_4', 'QWEN_IMAGE_EDIT_PLUS')


def json_type():
    return sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def providers_table() -> sa.Table:
    """The columns this migration writes, as 0018 created them."""
    return sa.table(
        'providers',
        *(sa.column(name) for name in (
            'key', 'display_name', 'description', 'model', 'version', 'schema_source', 'schema_retrieved',
            'image_field', 'image_as_list', 'output_is_list', 'state', 'created_at', 'updated_at',
        )),
        *(sa.column(name, json_type()) for name in ('input_schema', 'defaults', 'managed', 'narrowed', 'price')),
    )


def shipped_row(key: str) -> dict:
    snapshot = json.loads((SNAPSHOTS / f'{key}.json').read_text(encoding='utf-8'))
    provider = snapshot['provider']
    stamp = datetime.now(UTC).replace(tzinfo=None)
    return {
        'key': key,
        'display_name': provider['display_name'],
        'description': provider['description'],
        'model': snapshot['model'],
        'version': None,  # official models run by name (their latest version)
        'schema_source': snapshot['source'],
        'schema_retrieved': snapshot['retrieved'],
        'input_schema': snapshot['input_schema'],
        'image_field': provider['image_field'],
        'image_as_list': provider['image_as_list'],
        'output_is_list': provider['output_is_list'],
        'defaults': provider['defaults'],
        'managed': provider['managed'],
        'narrowed': provider['narrowed'],
        'price': provider['price'],
        'state': 'disabled',
        'created_at': stamp,
        'updated_at': stamp,
    }


def upgrade():
    taken = set(op.get_bind().scalars(sa.select(sa.column('key')).select_from(sa.table('providers'))))
    rows = [shipped_row(key) for key in KEYS if key not in taken]  # one an admin added by hand stays as it is
    if rows:
        op.bulk_insert(providers_table(), rows)


def downgrade():
    op.execute(providers_table().delete().where(sa.column('key').in_(KEYS)))
