"""spend: a ledger of what each ended prediction cost (USD), kept when jobs are pruned

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 11:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'spend_entries',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('month', sa.String(7), nullable=False),
        sa.Column('job_id', sa.String(32), nullable=True),
        sa.Column('preset_id', sa.String(32), nullable=True),
        sa.Column('item_id', sa.Integer(), nullable=True),
        sa.Column('model_id', sa.String(64), nullable=False),
        sa.Column('provider', sa.String(32), nullable=False),
        sa.Column('basis', sa.String(16), nullable=False),
        sa.Column('amount', sa.Numeric(14, 6), nullable=False),
        sa.Column('predict_time', sa.Float(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
    )
    op.create_index('ix_spend_entries_month', 'spend_entries', ['month'])
    op.create_index('ix_spend_entries_job_id', 'spend_entries', ['job_id'])
    op.create_index('ix_spend_entries_preset_id', 'spend_entries', ['preset_id'])
    op.create_table('spend_months', sa.Column('month', sa.String(7), primary_key=True))
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.add_column(sa.Column('reserved_per_item', sa.Numeric(14, 6), nullable=True))


def downgrade():
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.drop_column('reserved_per_item')
    op.drop_table('spend_months')
    op.drop_index('ix_spend_entries_preset_id', table_name='spend_entries')
    op.drop_index('ix_spend_entries_job_id', table_name='spend_entries')
    op.drop_index('ix_spend_entries_month', table_name='spend_entries')
    op.drop_table('spend_entries')
