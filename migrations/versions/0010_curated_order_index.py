"""curated order index: a gallery page is read off an index instead of sorting the preset's whole gallery

The gallery shows a preset's examples by group (featured, approved, unreviewed, rejected), placed before
unplaced, manual position, newest first, id. Without an index on those expressions PostgreSQL reads every
example of the preset and sorts them for each page (2 ms at 1,000 examples, growing with the gallery); with it
a page of 50 is the next 51 index entries. The expressions are written exactly as the queries write them
(`CURATED_ORDER` in app/models.py), which is what lets the planner match them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 17:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

RANK = (
    "CASE WHEN (state = 'featured') THEN 0 WHEN (state = 'approved') THEN 1 "
    "WHEN (state = 'unreviewed') THEN 2 WHEN (state = 'rejected') THEN 3 ELSE 4 END"
)
UNPLACED = "CASE WHEN (position IS NULL) THEN 1 ELSE 0 END"


def upgrade():
    op.create_index(
        'ix_gallery_examples_curated_order',
        'gallery_examples',
        ['preset_id', sa.text(f'({RANK})'), sa.text(f'({UNPLACED})'), 'position',
         sa.text('created_at DESC'), sa.text('id DESC')],
    )


def downgrade():
    op.drop_index('ix_gallery_examples_curated_order', table_name='gallery_examples')
