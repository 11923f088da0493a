"""The providers table read into `catalog.Provider`s: what the web side and the worker run, read once per
transaction (the session keeps them until its next commit or rollback), so a provider added, refreshed or retired
shows in every process at its next request or job, without a restart. A page that already reads `stamp_columns`
in its own query takes them from a process copy kept by that stamp (the rows' latest change) instead.

The seed's four are written by migration 0015; `restore_seed` writes them again as the code defines them
(tests that changed a seed row use it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ScalarSelect, delete, event, func, select
from sqlalchemy.orm import Session

from app.core.database import db
from app.models import ProviderRow, utcnow
from app.providers import catalog, schemas
from app.providers.catalog import Provider

ACTIVE, RETIRED = "active", "retired"
DISABLED = "disabled"  # shipped turned off: offered once an admin turns it on (`providers enable`)


def as_provider(row: ProviderRow) -> Provider:
    """The row as the object the pipeline, the forms and the rules use."""
    # a seed model created by version (Stable Diffusion) runs SD_IMG2IMG_VERSION; any other its pinned one
    pinned = None if row.key in catalog.PROVIDERS else row.version
    return Provider(
        name=row.key,
        label=f"{row.display_name} ({row.model})",
        model=row.model,
        image_field=row.image_field,
        image_as_list=row.image_as_list,
        by_version=row.version is not None,
        output_is_list=row.output_is_list,
        defaults=dict(row.defaults or {}),
        managed=frozenset(row.managed or ()),
        narrowed=dict(row.narrowed or {}),
        display_name=row.display_name,
        description=row.description,
        input_schema=row.input_schema,
        price=row.price,
        state=row.state,
        version=pinned,
    )


_kept: dict[Any, dict[str, Provider]] = {}  # by stamp: the latest rows this process read (one entry)


def read_all() -> dict[str, Provider]:
    """The rows, in one query with their stamp; kept by it for the pages that read the stamp themselves. Read
    without flushing the session: a preset half-edited when its provider is looked up (a name another preset has)
    must reach its own checks, not a flush's IntegrityError; the writers below flush what they change."""
    with db.session.no_autoflush:
        found = db.session.execute(select(ProviderRow, *stamp_columns()).order_by(ProviderRow.id)).all()
    providers = {row.key: as_provider(row) for row, _, _ in found}
    if found:
        keep((found[0][1], found[0][2]), providers)
    return providers


def keep(stamp: Any, providers: dict[str, Provider]) -> None:
    _kept.clear()
    _kept[stamp] = providers


def all_providers() -> dict[str, Provider]:
    """Every provider, active and retired, in the order they were added (read once per transaction)."""
    info = db.session.info
    if "providers" not in info:
        info["providers"] = read_all()
    found: dict[str, Provider] = info["providers"]
    return found


def stamp_columns() -> tuple[ScalarSelect, ScalarSelect]:
    """How many rows and their latest change, as columns a page's own query can carry (see `primed`)."""
    return (
        select(func.count(ProviderRow.id)).scalar_subquery(),
        select(func.max(ProviderRow.updated_at)).scalar_subquery(),
    )


def primed(stamp: Any) -> None:
    """This transaction's providers from the process copy kept by `stamp` (read when the stamp is new)."""
    found = _kept.get(stamp)  # one lookup: another thread may replace the copy meanwhile
    if found is None:
        found = read_all()
        keep(stamp, found)
    db.session.info["providers"] = found


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def forget(session: Session, *_: Any) -> None:
    """A commit or a rollback ends what the session read: the next transaction reads the rows again."""
    session.info.pop("providers", None)


def active_providers() -> dict[str, Provider]:
    return {key: p for key, p in all_providers().items() if p.active}


def find(key: str | None) -> Provider | None:
    return all_providers().get(key) if key else None


def display_name(key: str) -> str:
    """What a person reads for a provider's key (the key itself for one no row holds). The seed's four are named
    from the catalog until this transaction has read the rows (their rows hold the same names and nothing edits
    them), so a progress poll's cards stay off the database."""
    if "providers" not in db.session.info and key in catalog.PROVIDERS:
        return catalog.PROVIDERS[key].display_name
    provider = find(key)
    return provider.display_name if provider else key


def get(key: str) -> Provider:
    """The provider, or ValueError naming the active ones."""
    found = find(key)
    if found is None:
        raise ValueError(f"unknown provider {key!r}; choose one of {', '.join(active_providers())}")
    return found


def row_of(provider: Provider, snapshot: schemas.Snapshot) -> ProviderRow:
    """A new row for `provider` with its schema snapshot."""
    return ProviderRow(
        key=provider.name,
        display_name=provider.display_name,
        description=provider.description,
        model=provider.model,
        version=snapshot.version if provider.by_version else None,
        schema_source=snapshot.source,
        schema_retrieved=snapshot.retrieved,
        input_schema=snapshot.input_schema,
        image_field=provider.image_field,
        image_as_list=provider.image_as_list,
        output_is_list=provider.output_is_list,
        defaults=dict(provider.defaults),
        managed=sorted(provider.managed),
        narrowed=dict(provider.narrowed),
        price=provider.price,
        state=provider.state,
    )


def save_schema(key: str, version: str | None, source: str, input_schema: dict) -> None:
    """A refreshed snapshot, confirmed: the row's schema, its source and today's date (the caller commits)."""
    row = db.session.scalar(select(ProviderRow).where(ProviderRow.key == key))
    if row is None:
        raise ValueError(f"unknown provider {key!r}")
    db.session.info.pop("providers", None)
    row.input_schema, row.schema_source = input_schema, source
    row.schema_retrieved = utcnow().date().isoformat()
    if row.version is not None and version:
        row.version = version
    db.session.flush()


def set_state(key: str, state: str) -> Provider:
    row = db.session.scalar(select(ProviderRow).where(ProviderRow.key == key))
    if row is None:
        raise ValueError(f"unknown provider {key!r}; choose one of {', '.join(all_providers())}")
    row.state = state
    db.session.info.pop("providers", None)
    db.session.flush()
    return as_provider(row)


def restore_seed() -> None:
    """Only the seed's four, as the code and the snapshot files define them (the caller commits)."""
    db.session.info.pop("providers", None)
    db.session.execute(delete(ProviderRow))
    for provider in catalog.PROVIDERS.values():
        db.session.add(row_of(provider, schemas.load_snapshot(provider.name)))
    db.session.flush()
