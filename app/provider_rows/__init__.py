"""The image models presets run, as rows of the `providers` table: `table` reads them into `catalog.Provider`s
(once per transaction, or from a process copy kept by the rows' stamp), saves a new one, a refreshed schema or
a retirement, and writes the seed's four again."""

from app.provider_rows.table import (
    ACTIVE,
    DISABLED,
    RETIRED,
    active_providers,
    all_providers,
    as_provider,
    display_name,
    find,
    get,
    primed,
    restore_seed,
    row_of,
    save_schema,
    set_state,
    stamp_columns,
)

__all__ = [
    "ACTIVE",
    "DISABLED",
    "RETIRED",
    "active_providers",
    "all_providers",
    "as_provider",
    "display_name",
    "find",
    "get",
    "primed",
    "restore_seed",
    "row_of",
    "save_schema",
    "set_state",
    "stamp_columns",
]
