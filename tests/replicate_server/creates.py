"""POST /v1/predictions and POST /v1/models/{owner}/{name}/predictions: the body, ``Cancel-After``,
``Prefer: wait``, validation against the version's schema, and the new prediction's timing and outcome."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.replicate_server.limits import fmt_seconds
from tests.replicate_server.plumbing import Handler, NotJSON, Reply, not_found, problem, refuse_constant
from tests.replicate_server.schemas import RUNTIME_ERRORS, input_schema_of, json_type, validate_input
from tests.replicate_server.state import TERMINAL, Prediction, state_at
from tests.replicate_server.webhooks import WEBHOOK_EVENTS

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float:
    """Seconds in a Cancel-After value: "30s", "5m", "1h30m45s", "300ms", or plain seconds ("90").
    Raises ValueError for anything else, and for durations that are not positive."""
    value = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        seconds = float(value)
    else:
        pos, seconds = 0, 0.0
        for m in _DURATION_PART.finditer(value):
            if m.start() != pos:
                break
            seconds += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
            pos = m.end()
        if pos == 0 or pos != len(value):
            raise ValueError(f"not a duration: {text!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"not a positive duration: {text!r}")
    return seconds


def _parse_prefer_wait(prefer: str | None) -> float | None:
    if not prefer:
        return None
    m = re.search(r"(?:^|[,;\s])wait(?:\s*=\s*(\d+(?:\.\d+)?))?(?:$|[,;\s])", prefer)
    if not m:
        return None
    value = float(m.group(1)) if m.group(1) else 60.0
    return min(max(value, 0.0), 60.0)


def invalid_input(problems: list[tuple[str, str, str]]) -> Reply:
    """The 422 Replicate answers, one "- field: message" line per problem."""
    return problem(
        422,
        "Input validation failed",
        "".join(f"- {p}: {m}\n" for p, m, _ in problems),
        invalid_fields=[{"type": t, "field": p, "description": m} for p, m, t in problems],
    )


def _bad_events(events: Any) -> list[tuple[str, str, str]]:
    if events is None:
        return []
    if not isinstance(events, list):
        return [("webhook_events_filter", f"Invalid type. Expected: array, given: {json_type(events)}", "invalid_type")]
    options = ", ".join(f'"{e}"' for e in WEBHOOK_EVENTS)
    return [
        (f"webhook_events_filter.{i}", f"webhook_events_filter.{i} must be one of the following: {options}", "enum")
        for i, event in enumerate(events)
        if event not in WEBHOOK_EVENTS
    ]


def check_webhook_fields(body: dict) -> None:
    problems = []
    for key in ("webhook", "webhook_completed"):
        url = body.get(key)
        if url is not None and not (isinstance(url, str) and re.match(r"^https?://[^\s/]+", url)):
            problems.append((key, "Does not match format 'uri'", "format"))
    problems += _bad_events(body.get("webhook_events_filter"))
    if problems:
        raise invalid_input(problems)


def _output_shape(inp: dict, openapi: dict) -> dict[str, Any]:
    """Format, number of outputs, whether the output is a list, and the inputs the schema does not declare."""
    props = input_schema_of(openapi).get("properties", {})
    list_output = openapi["components"]["schemas"].get("Output", {}).get("type") == "array"
    fmt = inp.get("output_format", props.get("output_format", {}).get("default", "png"))
    n_outputs = int(inp.get("num_outputs", props.get("num_outputs", {}).get("default", 1))) if list_output else 1
    return {"fmt": fmt, "n_outputs": n_outputs, "list_output": list_output, "ignored": sorted(set(inp) - set(props))}


class Creates:
    """Creating predictions; the timing knobs reset with the server."""

    _lock: threading.RLock
    _stop_event: threading.Event

    def _reset_timing(self) -> None:
        # seconds a prediction waits before it starts (math.inf: never starts), and per-input
        # overrides of that wait and of its run time (None from a hook: no override)
        self.queue_delay = 0.0
        self.queue_delay_when: Callable[[str, dict], float | None] | None = None
        self.latency_when: Callable[[str, dict], float | None] | None = None
        self.cancel_after_min = 5.0  # Replicate's documented minimum Cancel-After

    def _parse_body(self, raw: bytes) -> dict:
        try:
            # NaN and Infinity are not JSON: Python's json takes them, Replicate's parser does not.
            body = json.loads(raw or b"null", parse_constant=refuse_constant)
        except ValueError as exc:
            detail = "The request body is not valid JSON"
            if isinstance(exc, NotJSON):
                detail += f": {exc} is not a JSON value"
            raise problem(400, "Bad request", detail) from None
        if not isinstance(body, dict):
            raise problem(
                422, "Input validation failed", f"- (root): Invalid type. Expected: object, given: {json_type(body)}\n"
            )
        return body

    def _create_target(self, raw: bytes, model: str | None) -> tuple[str, str, dict]:
        """(model, version to report, body) of a create by model name (``model``) or by ``version``."""
        if model is None:
            body = self._parse_body(raw)
            if "version" not in body:
                raise problem(422, "Input validation failed", "- (root): version is required\n")
            return (*self._resolve_version(body["version"]), body)
        spec = self.models.get(model)
        if spec is None:
            raise not_found()
        if not spec["official"]:
            raise problem(
                404,
                "Not found",
                "The requested resource could not be found. "
                f"{model} is not an official model: to run it you must specify a version "
                '(POST /v1/predictions with "version").',
            )
        return model, "hidden", self._parse_body(raw)

    def _create(self, h: Handler, raw: bytes, model: str | None) -> None:
        prefer = h.headers.get("Prefer")
        model, version, body = self._create_target(raw, model)
        cancel_after = self._cancel_after(h.headers.get("Cancel-After"))
        check_webhook_fields(body)
        self._admit_create()
        openapi = self.model_version(model, None if version == "hidden" else version)["openapi_schema"]
        problems = validate_input(model, body, openapi)
        if problems:
            raise invalid_input(problems)
        self._refuse_create_at_random()
        rec = self._new_prediction(model, version, body, openapi, cancel_after, prefer)
        self._schedule_webhooks(rec)
        self._answer_create(h, rec, prefer)

    def _timing(self, model: str, inp: dict) -> tuple[float, float | None]:
        """(seconds before it starts, run time or None for ``latency`` +/- ``jitter``) of a new prediction."""
        queue = self.queue_delay
        if self.queue_delay_when is not None and (q := self.queue_delay_when(model, inp)) is not None:
            queue = float(q)
        run_time = self.latency_when(model, inp) if self.latency_when is not None else None
        return queue, run_time

    def _duration(self, run_time: float | None) -> float:
        """The run time: ``latency`` +/- ``jitter``, unless a hook gave one. Under the lock."""
        duration = self.latency
        if self.jitter > 0:
            duration += self._rng.uniform(-self.jitter, self.jitter)
        duration = max(0.0, duration)
        return duration if run_time is None else max(0.0, float(run_time))

    def _new_prediction(
        self, model: str, version: str, body: dict, openapi: dict, cancel_after: float | None, prefer: str | None
    ) -> Prediction:
        inp = body["input"]
        failing = bool(self.fail_when(model, inp)) if self.fail_when is not None else False
        runtime_error = RUNTIME_ERRORS[model](inp) if model in RUNTIME_ERRORS else None
        shape = _output_shape(inp, openapi)
        queue, run_time = self._timing(model, inp)
        inline = self._inline_fields(model, inp)
        with self._lock:
            now = time.monotonic()
            duration = self._duration(run_time)
            outcome = self._outcome(failing or bool(runtime_error))
            rec = Prediction(
                id=self._new_id(),
                model=model,
                version=version,
                input=inp,
                created=now,
                start=now + queue + min(0.05, 0.1 * duration),
                end=now + queue + duration,
                outcome=outcome,
                canceled_at=None,
                fmt=shape["fmt"],
                n_outputs=shape["n_outputs"],
                expired=False,
                webhook=body.get("webhook"),
                first_download=None,
                list_output=shape["list_output"],
                error=runtime_error if runtime_error and not failing else None,
                deadline=None if cancel_after is None else now + cancel_after,
                cancel_after=cancel_after,
                events=tuple(body.get("webhook_events_filter") or WEBHOOK_EVENTS),
                webhook_completed=body.get("webhook_completed"),
                completed_sent=set(),
                **inline,
            )
            self._keep(rec, body, prefer, shape["ignored"])
        return rec

    def _keep(self, rec: Prediction, body: dict, prefer: str | None, ignored: list[str]) -> None:
        """Hold the new prediction and record its create. Under the lock."""
        self._preds[rec.id] = rec
        self._order.append(rec.id)
        self._window.append(rec.created)
        self.creates.append(
            {
                "id": rec.id,
                "model": rec.model,
                "version": rec.version,
                "input": rec.input,
                "time": rec.created,
                "prefer": prefer,
                "webhook": body.get("webhook"),
                "ignored_inputs": ignored,  # keys the schema does not declare (Replicate ignores them)
                "webhook_events_filter": body.get("webhook_events_filter"),
                "webhook_completed": body.get("webhook_completed"),
                "cancel_after": rec.cancel_after,  # seconds, from the Cancel-After header
            }
        )

    def _answer_create(self, h: Handler, rec: Prediction, prefer: str | None) -> None:
        """201 at once, or with ``Prefer: wait`` when it ends or the wait runs out."""
        wait = _parse_prefer_wait(prefer)
        if wait is None:
            return self._reply_json(h, 201, self._to_json(rec, rec.created, as_created=True))
        self._wait_for_end(rec, time.monotonic() + wait)
        with self._lock:
            now = time.monotonic()
            # The real blocking API answers "starting" when the wait runs out (see the
            # comment in replicate/run.py); wait_timeout_as_starting=False reports the
            # true state instead (then client.run() returns None for "processing").
            unfinished = state_at(rec, now)[0] not in TERMINAL
            payload = self._to_json(rec, now, as_created=unfinished and self.wait_timeout_as_starting)
        self._reply_json(h, 201, payload)

    def _cancel_after(self, header: str | None) -> float | None:
        if header is None:
            return None
        try:
            seconds = parse_duration(header)
        except ValueError:
            seconds = None
        if seconds is None or seconds < self.cancel_after_min:
            raise problem(
                400,
                "Invalid Cancel-After header",
                f"Cancel-After must be a duration like 30s, 5m or 1h30m (plain numbers are "
                f"seconds), at least {fmt_seconds(self.cancel_after_min)}s; got {header!r}",
            )
        return seconds
