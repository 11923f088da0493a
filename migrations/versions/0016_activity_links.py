"""activity links: each audit event names the preset it concerns and the ids it acted on

So the activity page can say "approved 3 examples of Film Noir Portrait" with links, and filter by preset.
Earlier events get their preset from the target they recorded ("preset NAME", or "preset ID" for a deleted
example) when that preset still exists; their ids stay in their detail text.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-06 17:45:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0016'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events') as batch_op:
        batch_op.add_column(sa.Column('preset_id', sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column('subjects', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                      nullable=True)
        )
        batch_op.create_index('ix_audit_events_preset_id', ['preset_id'])
    op.execute(
        "UPDATE audit_events SET preset_id = (SELECT presets.id FROM presets WHERE "
        "audit_events.target = 'preset ' || presets.name OR audit_events.target = 'preset ' || presets.id "
        "ORDER BY presets.id LIMIT 1) WHERE target LIKE 'preset %'"
    )
    op.execute(
        "UPDATE audit_events SET preset_id = (SELECT jobs.preset_id FROM jobs WHERE "
        "audit_events.target = 'job ' || jobs.id) WHERE action = 'job.cancel'"
    )


def downgrade():
    with op.batch_alter_table('audit_events') as batch_op:
        batch_op.drop_index('ix_audit_events_preset_id')
        batch_op.drop_column('subjects')
        batch_op.drop_column('preset_id')
