"""gallery versions: a number per preset that changes with every change to its examples

The preset page keeps the markup of its gallery section per process and reads this number with the preset: a
changed number (bumped in the same transaction as the change, by app/gallery_versions.py) is a new key, so no
process shows a stale gallery. The row "*" changes with what every gallery shows (cached reference thumbnails,
changes whose preset is unknown). No foreign key: "*" is no preset, and a deleted preset's row is never read.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 19:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'gallery_versions',
        sa.Column('preset_id', sa.String(length=32), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('preset_id'),
    )


def downgrade():
    op.drop_table('gallery_versions')
