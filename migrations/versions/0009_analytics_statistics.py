"""analytics statistics: how many days the examples and the ledger span, so PostgreSQL hashes the report's groups

The analytics report groups gallery_examples and spend_entries by `date(created_at)` (with other grouping
sets, in one statement each). Without statistics on that expression PostgreSQL guesses one group per row
(created_at is nearly unique), so it sorts every row by day instead of hashing them, and the sort spills to
disk past work_mem: a third of those two queries' time at 100,000 rows (benchmark 10). Expression
statistics (PostgreSQL 14+, filled by ANALYZE and autovacuum) give it the real number of days; no index is
kept up to date on each insert. SQLite plans these queries without estimates: nothing to do there.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 14:00:00

"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

STATISTICS = {
    'st_gallery_examples_created_day': 'gallery_examples',
    'st_spend_entries_created_day': 'spend_entries',
}


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name, table in STATISTICS.items():
        op.execute(f'CREATE STATISTICS {name} ON (date(created_at)) FROM {table}')
        op.execute(f'ANALYZE {table}')


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name in STATISTICS:
        op.execute(f'DROP STATISTICS IF EXISTS {name}')
