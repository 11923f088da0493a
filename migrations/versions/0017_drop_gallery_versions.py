"""drop gallery versions: the preset page is rendered from the rows on every view, with no kept markup

The table 0011 added numbered each preset's gallery so a process could keep rendered markup; the page is now
fast because it is lean, so nothing reads or bumps it. Downgrade recreates it empty (an empty table is what
0011's code started from: every preset at version 0).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 17:45:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table('gallery_versions')


def downgrade():
    op.create_table(
        'gallery_versions',
        sa.Column('preset_id', sa.String(length=32), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('preset_id'),
    )
