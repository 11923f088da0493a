"""prediction timing: how long each job item's prediction took, to plan when to read the next ones

Revision ID: 0005
Revises: 0004 (rechain to 0004 when that migration is merged)
Create Date: 2026-11-24 09:45:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('job_items') as batch_op:
        batch_op.add_column(sa.Column('prediction_seconds', sa.Float(), nullable=True))
        batch_op.create_index('ix_job_items_updated_at', ['updated_at'])


def downgrade():
    with op.batch_alter_table('job_items') as batch_op:
        batch_op.drop_index('ix_job_items_updated_at')
        batch_op.drop_column('prediction_seconds')
