"""review shortcuts: each admin can turn off the review view's single-key shortcuts (WCAG 2.1.4)

Existing admins keep them on.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-06 17:50:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('review_keys', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('review_keys')
