"""Each preset's gallery version, so a page can keep the markup of a gallery and know, from one number read with
the preset, when it is stale, whichever process changed the gallery (a web worker, a consumer, the CLI).

Every session that writes examples bumps the version of their presets in the same transaction, as its last
statement before COMMIT: the ORM's own inserts, updates and deletes of examples and the deletes of jobs (whose
examples then say "job pruned") are seen by the session's flush; a bulk INSERT names its presets in its rows; a
bulk UPDATE or DELETE names them with `execution_options(gallery_of=(preset_id,))`, and one that does not bumps
`GALLERY_EVERYWHERE`, which every preset's pages also key by. A change written outside the session (raw SQL
by hand) bumps nothing: kept pages show it when they are rendered again, at the latest a minute later.

The bump comes last so that a transaction holds the version row only while it commits: it waits for nothing
else then, and bumps take their rows in one order (sorted), so two writers never deadlock on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import chain
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, event, func, select
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    UOWTransaction,
    mapped_column,
    scoped_session,
)

from app.core.database import Model, upsert
from app.models import GalleryExample, Job

GALLERY_EVERYWHERE = "*"  # the version every preset's pages also key by
TOUCHED = "gallery_versions.touched"  # the session's info: presets whose gallery this transaction changed
HINT = "gallery_of"  # execution option of a bulk UPDATE / DELETE: the presets whose examples it changes
TRACKED = {GalleryExample.__tablename__, Job.__tablename__}


class GalleryVersion(Model):
    """One row per preset whose gallery changed (and "*"), bumped only here, last in each transaction."""

    __tablename__ = "gallery_versions"

    preset_id: Mapped[str] = mapped_column(String(32), primary_key=True)  # no foreign key: "*" is no preset
    version: Mapped[int] = mapped_column(BigInteger, default=1)


def version_column(preset_id: Any) -> ColumnElement[int]:
    """A scalar subquery: the gallery version of `preset_id` (a column or a value; 0 before its first change)."""
    return func.coalesce(
        select(GalleryVersion.version).where(GalleryVersion.preset_id == preset_id).scalar_subquery(), 0
    )


def versions_columns(preset_id: Any) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """The preset's version and the everywhere version: together they say whether a kept gallery is current."""
    return version_column(preset_id), version_column(GALLERY_EVERYWHERE)


def touch(session: Session | scoped_session[Any], preset_ids: Iterable[str]) -> None:
    """Bump these presets' versions when the session commits."""
    session.info.setdefault(TOUCHED, set()).update(preset_ids)


def touch_everywhere(session: Session | scoped_session[Any]) -> None:
    """Bump every preset's version when the session commits (a change to what every gallery shows, such as
    the cached reference thumbnails)."""
    touch(session, (GALLERY_EVERYWHERE,))


def bump(session: Session, preset_ids: list[str]) -> None:
    """+1 for each of `preset_ids`, creating its row at 1 (INSERT … ON CONFLICT, on PostgreSQL and SQLite)."""
    statement = upsert(GalleryVersion, session).values([{"preset_id": p, "version": 1} for p in preset_ids])
    statement = statement.on_conflict_do_update(
        index_elements=[GalleryVersion.preset_id], set_={"version": GalleryVersion.version + 1}
    )
    session.execute(statement)


# -- what the session sees ------------------------------------------------------------------------------------
@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: UOWTransaction) -> None:
    """The ORM's own changes: examples added, changed or deleted, jobs deleted (the session's state here is
    still the flush's: new, dirty and deleted)."""
    touched = {e.preset_id for e in chain(session.new, session.dirty, session.deleted) if isinstance(e, GalleryExample)}
    touched |= {j.preset_id for j in session.deleted if isinstance(j, Job)}
    if touched:
        touch(session, touched)


@event.listens_for(Session, "do_orm_execute")
def _bulk(state: ORMExecuteState) -> None:
    """INSERT, UPDATE and DELETE statements on examples (and DELETEs of jobs) run through the session."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name not in TRACKED or (name == Job.__tablename__ and not state.is_delete):
        return
    named = state.execution_options.get(HINT)
    if named is not None:
        touch(state.session, named)
        return
    params = state.parameters
    rows = [params or {}] if params is None or isinstance(params, Mapping) else list(params)
    presets = [row.get("preset_id") for row in rows]
    named_in_rows = [p for p in presets if isinstance(p, str)]
    if state.is_insert and name == GalleryExample.__tablename__ and len(named_in_rows) == len(presets):
        touch(state.session, named_in_rows)
    else:
        touch_everywhere(state.session)


@event.listens_for(Session, "before_commit")
def _bump_before_commit(session: Session) -> None:
    session.flush()  # the last changes' flush events come first
    touched = session.info.pop(TOUCHED, None)
    if touched:
        bump(session, sorted(touched))


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    """A rolled-back transaction changed nothing (a savepoint's rollback keeps the set: bumping too often is
    harmless, too rarely is a stale page)."""
    if transaction.parent is None:
        session.info.pop(TOUCHED, None)
