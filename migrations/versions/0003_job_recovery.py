"""job recovery: lease, cancel request, re-queue bookkeeping, retry link

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 05:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('cancel_requested', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('requeues', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('stalled_requeues', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('progress_mark', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('requeued_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('retry_of', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('jobs') as batch_op:
        for column in ('retry_of', 'requeued_at', 'progress_mark', 'stalled_requeues', 'requeues',
                       'cancel_requested', 'lease_owner'):
            batch_op.drop_column(column)
