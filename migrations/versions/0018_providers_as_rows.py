"""providers as rows: the seed's four image models move from code into a `providers` table

Each row holds the model, its input-schema snapshot (copied from app/providers/schemas/, with its source and
date), the reference-photo field, the app's defaults and fixed inputs, a price rule (NULL: the PRICE_* settings,
as before) and a state. The columns holding a provider key widen from 32 to 64 characters. Downgrade drops the
table and narrows the columns again (presets keep their provider and settings either way).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 17:45:00

"""
import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

SNAPSHOTS = Path(__file__).resolve().parents[2] / 'app' / 'providers' / 'schemas'
KEY_COLUMNS = ('presets', 'jobs', 'gallery_examples', 'spend_entries')
SEED = (
    dict(
        key='NANO_BANANA', display_name='Nano Banana',
        description="Google's image editor; keeps the face and follows the prompt closely.",
        model='google/nano-banana', image_field='image_input', image_as_list=True, output_is_list=False,
        defaults={'output_format': 'jpg', 'aspect_ratio': 'match_input_image'}, managed=[], narrowed={},
    ),
    dict(
        key='FLUX_KONTEXT', display_name='FLUX Kontext Pro',
        description="Black Forest Labs' instruction-based editor; restyles a photo while keeping the person.",
        model='black-forest-labs/flux-kontext-pro', image_field='input_image', image_as_list=False,
        output_is_list=False,
        defaults={'aspect_ratio': 'match_input_image', 'output_format': 'jpg', 'safety_tolerance': 2},
        managed=[], narrowed={'safety_tolerance': {'maximum': 2}},
    ),
    dict(
        key='FLUX_PRO', display_name='FLUX 1.1 Pro',
        description="Black Forest Labs' text-to-image model; the photo is only a loose guide, so faces drift.",
        model='black-forest-labs/flux-1.1-pro', image_field='image_prompt', image_as_list=False,
        output_is_list=False, defaults={'aspect_ratio': '1:1', 'output_format': 'jpg', 'safety_tolerance': 2},
        managed=[], narrowed={},
    ),
    dict(
        key='STABLE_DIFFUSION', display_name='Stable Diffusion img2img',
        description="Stability AI's classic image-to-image model; redraws a share of the photo.",
        model='stability-ai/stable-diffusion-img2img', image_field='image', image_as_list=False,
        output_is_list=True, defaults={'num_outputs': 1, 'prompt_strength': 0.8}, managed=['num_outputs'],
        narrowed={'prompt_strength': {'minimum': 0, 'maximum': 1}},
    ),
)


def json_type():
    return sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def widen(before: int, after: int) -> None:
    """PostgreSQL enforces a VARCHAR's length; SQLite does not, and its table copy would drop
    gallery_examples' expression index, so it is left alone."""
    if op.get_bind().dialect.name == 'sqlite':
        return
    for table in KEY_COLUMNS:
        op.alter_column(table, 'provider', type_=sa.String(after), existing_type=sa.String(before))


def upgrade():
    widen(32, 64)
    providers = op.create_table(
        'providers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(64), nullable=False),
        sa.Column('display_name', sa.String(200), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('model', sa.String(200), nullable=False),
        sa.Column('version', sa.String(100), nullable=True),
        sa.Column('schema_source', sa.Text(), nullable=False),
        sa.Column('schema_retrieved', sa.String(10), nullable=False),
        sa.Column('input_schema', json_type(), nullable=False),
        sa.Column('image_field', sa.String(100), nullable=False),
        sa.Column('image_as_list', sa.Boolean(), nullable=False),
        sa.Column('output_is_list', sa.Boolean(), nullable=False),
        sa.Column('defaults', json_type(), nullable=False),
        sa.Column('managed', json_type(), nullable=False),
        sa.Column('narrowed', json_type(), nullable=False),
        sa.Column('price', json_type(), nullable=True),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.bulk_insert(providers, [seed_row(row) for row in SEED])


def seed_row(row: dict) -> dict:
    snapshot = json.loads((SNAPSHOTS / f"{row['key']}.json").read_text(encoding='utf-8'))
    stamp = datetime.now(UTC).replace(tzinfo=None)
    return {
        **row,
        'version': snapshot['version'] if row['key'] == 'STABLE_DIFFUSION' else None,
        'schema_source': snapshot['source'],
        'schema_retrieved': snapshot['retrieved'],
        'input_schema': snapshot['input_schema'],
        'price': None,
        'state': 'active',
        'created_at': stamp,
        'updated_at': stamp,
    }


def downgrade():
    op.drop_table('providers')
    widen(64, 32)
