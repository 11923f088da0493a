"""Comparisons: a preset tried on 2–4 variants (a provider with its settings, and a prompt) over a few reference
models, run through the same pipeline, limits and budget as a job (one job per variant, whose outputs are cells,
see app.jobs.writes), judged blind in pairs, and adopted: the preset takes the winner's model, settings and prompt
and the picked outputs become unreviewed examples. Until then the preset, its gallery and its usage stay as they are.

`request` reads what is asked, `start` creates and queues it, `reading` says how it stands (grid, totals, pairs),
`votes` and `scores` judge it, `cancel` stops it, `adopt` ends it."""
