"""Jobs: from a request to a finished job.

- `submit`: request → reserved models → queued job; `regenerate`: one example made anew (a one-item job)
- `pipeline`: a job's stages, with `lease` (one worker per job), `items` (the thread pool and its events),
  `rows` (what each event writes), `outcome` (how the job ended)
- `reading`: reading a job; `progress`: the live record (`ProgressRecord`) and its stores
- `recovery`: lost jobs, cancel; `cancel`: an admin's cancel (the service every door calls)
- `account_limits`: Replicate's account limits shared by every consumer (creates, the read budget);
  `api_usage`: the calls and 429s the jobs page shows
- `webhook_completions`: completions told by webhooks; `embedded_store`: the first-run SQLite store
"""
