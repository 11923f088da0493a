"""curation: each example's verdict, manual position and what made it; one-item redo jobs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade():
    with op.batch_alter_table('gallery_examples') as batch_op:
        batch_op.add_column(sa.Column('model_version', sa.String(200), nullable=True))
        batch_op.add_column(sa.Column('settings', JSON, nullable=True))
        batch_op.add_column(sa.Column('state', sa.String(16), nullable=False, server_default='unreviewed'))
        batch_op.add_column(sa.Column('position', sa.Integer(), nullable=True))
        batch_op.create_index('ix_gallery_examples_preset_state', ['preset_id', 'state'])
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.add_column(sa.Column('regenerate_of', sa.String(32), nullable=True))


def downgrade():
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.drop_column('regenerate_of')
    with op.batch_alter_table('gallery_examples') as batch_op:
        batch_op.drop_index('ix_gallery_examples_preset_state')
        batch_op.drop_column('position')
        batch_op.drop_column('state')
        batch_op.drop_column('settings')
        batch_op.drop_column('model_version')
