"""A gallery page is read off the curated-order index (migration 0010) on PostgreSQL, not sorted: the first
page's cost stays that of 51 rows however large the gallery. Also: its total without a count query of its own."""

from __future__ import annotations

from sqlalchemy import event, text

from app.core.database import db
from app.gallery.query import GalleryQuery, gallery_counts, gallery_page
from tests.conftest import create_preset
from tests.factories import seed


def page_statements(app, preset_id: str, query: GalleryQuery, with_counts: bool) -> tuple[list, object]:
    """The SQL statements (with their parameters) one gallery_page call runs, and the page."""
    seen: list = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    with app.app_context():
        counts = gallery_counts(preset_id) if with_counts else None
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            page = gallery_page(preset_id, query, counts=counts)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
    return seen, page


def test_a_page_is_read_off_the_curated_order_index_with_and_without_statistics(admin_app, admin_client):
    with admin_app.app_context():  # no statistics, as in a new database (emptying by DELETE keeps earlier tests')
        db.session.execute(text("TRUNCATE gallery_examples CASCADE"))
        db.session.commit()
    preset_id = create_preset(admin_client)["id"]
    states = ["unreviewed", "approved", "featured", "rejected"] * 250
    seed(admin_app, preset_id, states, positions=[n if n % 7 == 0 else None for n in range(len(states))])
    for analyzed in (False, True):
        if analyzed:
            with admin_app.app_context():
                db.session.execute(text("ANALYZE gallery_examples"))
                db.session.commit()
        # Deeper pages too, until statistics tell PostgreSQL the gallery is small enough to sort more cheaply
        for page_number in (1,) if analyzed else (1, 4):
            statements, page = page_statements(admin_app, preset_id, GalleryQuery(page=page_number), True)
            (statement, parameters), *_ = [s for s in statements if "ORDER BY" in s[0]]
            with admin_app.app_context():
                raw = db.engine.raw_connection()  # the statement as the driver ran it, parameters and all
                try:
                    cursor = raw.cursor()
                    cursor.execute("EXPLAIN " + statement, parameters)
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                finally:
                    raw.close()
            assert "ix_gallery_examples_curated_order" in plan, plan
            assert "Sort" not in plan, plan  # no sort of the gallery: the index gives the order
            assert len(page.examples) == 50 and page.total == 750


def test_an_unfiltered_page_takes_its_total_from_the_counts_and_a_filtered_one_counts(admin_app, admin_client):
    preset_id = create_preset(admin_client)["id"]
    seed(admin_app, preset_id, ["unreviewed", "approved", "rejected"] * 30)
    unfiltered, page = page_statements(admin_app, preset_id, GalleryQuery(), True)
    assert len(unfiltered) == 1 and page.total == 60
    filtered, page = page_statements(admin_app, preset_id, GalleryQuery(gender="male"), True)
    assert len(filtered) == 2 and page.total == 30
    alone, page = page_statements(admin_app, preset_id, GalleryQuery(), False)
    assert len(alone) == 2 and page.total == 60
