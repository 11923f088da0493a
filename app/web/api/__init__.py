"""The JSON API under /api/admin, one blueprint per module: `presets` (and generating their examples), `jobs`,
`gallery` (pages of a preset's gallery and verdicts), `regenerate` (one example made anew), `reports` (spend and
analytics); what they share (blueprints, body rules) in `common`."""
