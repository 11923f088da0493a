"""From a request to a finished job: `submit` (request → reserved models → queued job), `pipeline` (a job's
items on a thread pool), `jobs` (reading a job), `progress` (the live record), `recovery` (lost jobs, cancel),
`rate_limit` (Replicate's create limit, shared by every consumer)."""
