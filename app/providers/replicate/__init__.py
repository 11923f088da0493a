"""Replicate's API: one prediction (`predictions`), the client's transport (`transport`), what a read or a
webhook tells (`readings`), when to read (`read_plan`, `read_wait`), webhook signatures (`signatures`) and the
account's limits as Replicate answers them (`account_watch`)."""
