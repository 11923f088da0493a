"""image sizes: each example's thumbnail and medium size, with their pixel sizes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 13:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COLUMNS = ('thumb_path', 'thumb_width', 'thumb_height', 'medium_path', 'medium_width', 'medium_height')


def upgrade():
    with op.batch_alter_table('gallery_examples') as batch_op:
        batch_op.add_column(sa.Column('thumb_path', sa.String(500), nullable=True))
        batch_op.add_column(sa.Column('thumb_width', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('thumb_height', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('medium_path', sa.String(500), nullable=True))
        batch_op.add_column(sa.Column('medium_width', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('medium_height', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('gallery_examples') as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
