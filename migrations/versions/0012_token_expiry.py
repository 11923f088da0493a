"""token expiry: a named API token may expire (`tokens create NAME --expires 90d`)

Existing tokens keep no expiry (NULL), as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_tokens') as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('api_tokens') as batch_op:
        batch_op.drop_column('expires_at')
