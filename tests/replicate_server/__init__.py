"""A Replicate-compatible HTTP server for tests and benchmarks.

It speaks the parts of ``api.replicate.com`` (and ``replicate.delivery``) that the
``replicate`` 1.0.7 Python client and this project use, so the *real* client can be
pointed at it::

    with ReplicateServer(latency=0.2) as server:
        client = replicate.Client(api_token=server.token, base_url=server.url)
        prediction = client.predictions.create(model="google/nano-banana", input={...})

or, for code that builds its own client, with ``REPLICATE_BASE_URL=server.url`` and
``REPLICATE_API_TOKEN=server.token`` in the environment.

Design notes
* Standard library HTTP server (``ThreadingHTTPServer``, HTTP/1.1 keep-alive, exact
  ``Content-Length``) plus Pillow for the output images. No thread per prediction: a
  prediction's status is computed from timestamps whenever it is read.
* Every random decision comes from one ``random.Random(seed)`` guarded by a lock, and
  the rng is only consulted when the matching knob is non-zero, so a seeded,
  sequential run is repeatable.
* Knobs are plain attributes and may be changed while the server runs.

Models and input schemas
* Each model's published schema is this server's own copy in ``tests/replicate_schemas/``
  (``<owner>__<name>.json``: the model as GET /v1/models shows it, its versions, latest first,
  with their ``openapi_schema``, and the source page and date). The app keeps its own
  snapshot in ``app/providers/schemas/<PROVIDER>.json``; ``resolved_input_schema(model)``
  equals its ``input_schema`` until a test changes one of them.
* Creates are validated with ``jsonschema`` against the version's ``Input`` (422 with
  ``detail`` "- input.field: message" lines and ``invalid_fields``, worded like Replicate's
  gojsonschema); unknown input keys are accepted and listed in the create record's
  ``ignored_inputs``; NaN/Infinity in a body is a 400. ``input_schema(model)`` is the live
  schema (change it to make the server disagree), ``publish_version(model, schema)`` adds a
  new latest version. GET /v1/models/{owner}/{name}[/versions[/{id}]] are served (reads).

Account limits (Replicate: 600 creates a minute, 3000 a minute for every other API call,
short bursts tolerated; a 429 says "Request was throttled. Your rate limit resets in ~Ns."
with ``Retry-After: N``)
* ``create_limit_per_minute`` / ``create_burst``, ``read_limit_per_minute`` / ``read_burst``:
  token buckets of ``burst`` tokens (default 20) refilled at ``limit / 60`` a second, starting
  full; None (the default) turns a limit off. N is the time to the next token, rounded up,
  at least 1. A "read" is every API call but create: GET/list/cancel predictions, model and
  version reads, the webhook secret, the account (GET /v1/account, ``account``). File
  downloads (``/files/...``, replicate.delivery in reality) and ``/stream/`` are not API calls.
* ``rate_limit_per_minute`` / ``rate_window``: the older strict sliding window on accepted
  creates (no burst); ``throttle_rate`` / ``retry_after``: random create 429s. All apply.
* ``throttle_reads_for(s)`` / ``throttle_creates_for(s)`` (or ``read_throttle_until`` /
  ``create_throttle_until``, monotonic times): every read / create gets 429 until then.
* Records: ``calls`` (one ``Call(time, kind, endpoint, throttled)`` per API call),
  ``throttled`` (create 429s), ``read_throttled`` (read 429s), ``gets``, ``cancels``;
  ``call_counts()``, ``call_times(...)``, ``download_delays()`` (end of a succeeded
  prediction to the first download of its output), ``never_downloaded()``,
  ``prediction_times()``; module-level ``percentile(values, q)``; ``bills()`` (what each prediction is billed,
  by the ``price`` rule in its model's file).

Timing, Cancel-After
* ``latency`` (+/- ``jitter``) is a prediction's run time; ``queue_delay`` the wait before it
  starts; ``queue_delay_when(model, input)`` / ``latency_when(model, input)`` override them per
  input (return None for no override; ``math.inf`` = never starts / runs forever).
* ``Cancel-After`` on create ("30s", "5m", "1h30m45s", "300ms", plain seconds "90"; at least
  ``cancel_after_min``, 5 s like Replicate; else 400): from creation, a prediction that has not
  started by then ends ``aborted`` (no ``started_at``), a running one ``canceled``. The create
  record has ``cancel_after`` (seconds or None).

Webhooks (``webhook``, ``webhook_events_filter`` (default: all of start, output, logs,
completed), ``webhook_completed`` on create)
* Delivered by POST from a scheduler thread when the event happens; the body is the prediction
  JSON; signed like Replicate (Standard Webhooks): ``webhook-id`` (stable across retries and
  duplicates), ``webhook-timestamp``, ``webhook-signature: v1,<b64 HMAC-SHA256>`` keyed with
  ``webhook_secret`` (served at GET /v1/webhooks/default/secret, a read). Only the final
  ("completed") event is retried, on a non-2xx answer or a connection error, after each of
  ``webhook_retry_delays`` seconds (default 1, 2, 4, 8, 15, 30: the last about a minute on).
* Faults: ``webhook_drop_rate``, ``webhook_duplicate_rate`` (+ ``webhook_duplicate_delay``),
  ``webhook_delay``, ``webhook_reorder_window`` (hold "completed" deliveries that long, then send
  them latest-ended first), ``webhook_forge`` ("bad_signature", "stale_timestamp" (by
  ``webhook_stale_seconds``), "missing_id", "missing_timestamp", "missing_signature").
* Records: ``webhooks`` (every attempt: prediction_id, event, url, webhook_id, timestamp,
  attempt, duplicate, forged, status (None on a connection error), error, headers, body, time),
  ``webhook_dropped``, ``webhook_deliveries(prediction_id, event)``.

Large and odd answers (``inline``): ``data_uri_when`` (outputs inline as ``data:`` URIs, as Replicate's sync
mode may answer them), ``output_bytes_when`` (an output's size), ``output_body_when`` (an output's body and type,
e.g. an HTML page), ``logs_bytes_when`` (logs that long): streamed, never built in memory.

Modules: ``server`` (lifecycle, timers), ``routes``, ``creates``, ``models``, ``files``, ``inline``, ``images``,
``schemas``, ``state``, ``records``, ``billing``, ``limits`` (account limits), ``faults``, ``webhooks``,
``plumbing`` (HTTP), ``cli``.

Standalone use (for benchmarks)::

    python -m tests.replicate_server --port 8787 --latency 2 --jitter 0.25 \\
        --create-limit 600 --read-limit 3000
"""

from tests.replicate_server.creates import parse_duration
from tests.replicate_server.limits import Call, busiest_window, percentile
from tests.replicate_server.schemas import OFFICIAL_MODELS, SD_IMG2IMG, SD_IMG2IMG_VERSION, SD_IMG2IMG_VERSION_ALIAS
from tests.replicate_server.server import DEFAULT_TOKEN, ReplicateServer
from tests.replicate_server.state import FAILURE_ERROR
from tests.replicate_server.webhooks import WEBHOOK_EVENTS, sign_webhook

__all__ = [
    "ReplicateServer",
    "DEFAULT_TOKEN",
    "OFFICIAL_MODELS",
    "SD_IMG2IMG",
    "SD_IMG2IMG_VERSION",
    "SD_IMG2IMG_VERSION_ALIAS",
    "FAILURE_ERROR",
    "Call",
    "busiest_window",
    "percentile",
    "parse_duration",
    "sign_webhook",
    "WEBHOOK_EVENTS",
]
