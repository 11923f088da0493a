"""How the analytics report's queries run on PostgreSQL (issue 19, benchmark 10): the planner knows how many
days the day groupings hold (migration 0009), and the runner's concurrent statements fail loudly and give
their connections back. The figures themselves are checked on both databases in test_analytics.py."""

from __future__ import annotations

import pytest
from sqlalchemy import func, literal, select, text
from sqlalchemy.exc import DataError

from app.analytics.queries import Query
from app.analytics.runner import run
from app.core.database import db
from app.models import GalleryExample, SpendEntry
from tests.analytics_seed import seed_history


@pytest.mark.parametrize("table", [GalleryExample, SpendEntry], ids=["examples", "spend"])
def test_the_planner_expects_one_group_a_day_not_one_a_row(make_app, table):
    """Without statistics on date(created_at) PostgreSQL expects as many days as rows (created_at is nearly
    unique), and sorts every row instead of hashing the report's groups."""
    app = make_app()
    seed_history(app)
    day = func.date(table.created_at)
    with app.app_context():
        db.session.execute(text(f"ANALYZE {table.__tablename__}"))
        rows, days = db.session.execute(select(func.count(), func.count(day.distinct()))).one()
        assert rows > 3 * days  # else the two estimates could not be told apart
        statement = select(day, func.count()).group_by(day)
        compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = db.session.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar_one()
        assert plan[0]["Plan"]["Plan Rows"] <= 2 * days, (plan[0]["Plan"]["Plan Rows"], days, rows)


def test_a_failing_statement_fails_the_report_and_every_connection_goes_back(make_app):
    app = make_app()
    with app.app_context():
        pool = db.engine.pool
        before = pool.checkedout()
        queries = {
            "fine": Query(select(literal(1)), list),
            "broken": Query(text("SELECT 1 / 0"), list),
            "slow": Query(text("SELECT pg_sleep(0.2)"), list),
        }
        with pytest.raises(DataError, match="division by zero"):
            run(queries)
        assert pool.checkedout() == before


def test_the_statements_run_at_once_on_postgresql(make_app):
    """Four statements of 0.3 s each take about 0.3 s together, not 1.2 s."""
    app = make_app()
    with app.app_context():
        queries = {f"q{n}": Query(text("SELECT pg_sleep(0.3), 1"), lambda rows: rows[0][1]) for n in range(4)}
        started = db.session.execute(select(func.clock_timestamp())).scalar_one()
        assert run(queries) == {"q0": 1, "q1": 1, "q2": 1, "q3": 1}
        took = (db.session.execute(select(func.clock_timestamp())).scalar_one() - started).total_seconds()
        assert took < 0.9, took
