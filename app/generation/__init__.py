"""From a request to a finished job.

- `submit`: request → reserved models → queued job (releasing one model is the domain's `model_release`)
- `pipeline`: a job's stages, with `lease` (one worker per job), `items` (the thread pool and its events),
  `rows` (what each event writes), `outcome` (how the job ended)
- `jobs`: reading a job; `progress`: the live record (`ProgressRecord`) and its stores
- `recovery`: lost jobs, cancel
- `rate_limit`: Replicate's account limits shared by every consumer (creates, the read budget);
  `api_usage`: the calls and 429s the jobs page shows
- `hooks`: completions told by webhooks; `embedded`: the first-run SQLite store's connection
"""
