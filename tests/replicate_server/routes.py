"""Which request goes where: files, the event stream, health, and the /v1 API (auth, then create or a read)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.replicate_server.plumbing import Handler, not_found, problem
from tests.replicate_server.state import FAILURE_ERROR, TERMINAL, state_at


def _is_model_create(method: str, parts: list[str]) -> bool:
    return method == "POST" and len(parts) == 4 and parts[0] == "models" and parts[3] == "predictions"


class Routes:
    """The routes; every API call but a create counts against the "read" limit (3000/min on Replicate)."""

    LIST_PAGE = 100
    _lock: threading.RLock

    def _check_auth(self, h: Handler) -> None:
        auth = (h.headers.get("Authorization") or "").strip()
        scheme, _, value = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or value.strip() != self.token:
            raise problem(401, "Unauthenticated", "You did not pass a valid authentication token")

    def handle(self, h: Handler, method: str, raw: bytes) -> None:
        path = urlsplit(h.path).path
        if path.startswith("/files/"):
            if method not in ("GET", "HEAD"):
                raise problem(405, "Method not allowed", "Method not allowed")
            return self._download(h, path, head=(method == "HEAD"))
        if path.startswith("/stream/"):
            return self._stream(h, path[len("/stream/") :])
        if path in ("/", "/health"):
            return h.reply(200, {"status": "ok"}, "application/json")
        if not path.startswith("/v1/"):
            raise not_found()
        self._check_auth(h)
        parts = [p for p in path.split("/") if p][1:]  # drop "v1"
        if _is_model_create(method, parts):
            return self._create(h, raw, model=f"{parts[1]}/{parts[2]}")
        if method == "POST" and parts == ["predictions"]:
            return self._create(h, raw, model=None)
        endpoint, serve = self._read_route(method, parts)
        self._admit_read(endpoint)
        if serve is None:
            raise not_found()
        return serve(h)

    def _read_route(self, method: str, parts: list[str]) -> tuple[str, Callable[[Handler], Any] | None]:
        """(endpoint as the limits count it, what answers it or None for a 404)."""
        n = len(parts)
        if method == "GET" and parts == ["predictions"]:
            return "predictions.list", self._list
        if method == "GET" and n == 2 and parts[0] == "predictions":
            return "predictions.get", lambda h: self._get(h, parts[1])
        if method == "POST" and n == 3 and parts[0] == "predictions" and parts[2] == "cancel":
            return "predictions.cancel", lambda h: self._cancel(h, parts[1])
        if method == "GET" and parts == ["account"]:
            return "account.get", lambda h: h.reply(200, self.account, "application/json")
        if method == "GET" and parts == ["webhooks", "default", "secret"]:
            return "webhooks.default.secret", lambda h: h.reply(200, {"key": self.webhook_secret}, "application/json")
        if method == "GET" and n in (3, 4, 5) and parts[0] == "models" and (n == 3 or parts[3] == "versions"):
            endpoint = {3: "models.get", 4: "models.versions.list", 5: "models.versions.get"}[n]
            name, version_id = f"{parts[1]}/{parts[2]}", parts[4] if n == 5 else None
            return endpoint, lambda h: self._model_route(h, name, version_id, listing=n == 4)
        return "other", None

    def _get(self, h: Handler, pid: str) -> None:
        with self._lock:
            self.gets += 1
        rec = self._lookup(pid)
        self._reply_json(h, 200, self._to_json(rec, time.monotonic()))

    def _list(self, h: Handler) -> None:
        """The account's predictions, newest first, 100 a page, as GET shows each one. Like Replicate's,
        the cursor is opaque and keyed on the last prediction shown, so new predictions do not shift pages."""
        cursor = parse_qs(urlsplit(h.path).query).get("cursor", [None])[0]
        now = time.monotonic()
        with self._lock:
            end = len(self._order) if cursor is None else self._cursor_position(cursor)
            start = max(0, end - self.LIST_PAGE)
            recs = [self._preds[i] for i in reversed(self._order[start:end])]
            results = [self._to_json(r, now) for r in recs]
        nxt = None
        if start > 0:
            token = base64.urlsafe_b64encode(f"p={start}".encode()).decode()
            nxt = f"{self.url}/v1/predictions?cursor={token}"
        self._reply_json(h, 200, {"previous": None, "next": nxt, "results": results})

    def _cursor_position(self, cursor: str) -> int:
        try:
            text = base64.urlsafe_b64decode(cursor.encode()).decode()
            position = int(text.removeprefix("p="))
        except (ValueError, UnicodeError):
            raise problem(400, "Bad request", "Invalid cursor.") from None
        if not text.startswith("p=") or not 0 <= position <= len(self._order):
            raise problem(400, "Bad request", "Invalid cursor.")
        return position

    def _cancel(self, h: Handler, pid: str) -> None:
        rec = self._lookup(pid)
        with self._lock:
            now = time.monotonic()
            self.cancels.append(pid)
            canceled = state_at(rec, now)[0] not in TERMINAL
            if canceled:
                rec.canceled_at = now
            payload = self._to_json(rec, now)
        if canceled:
            for url in self._completed_targets(rec):
                self._at(now, self._fire, self._gen, rec, "completed", url)
        self._reply_json(h, 200, payload)

    def _stream(self, h: Handler, pid: str) -> None:
        """Minimal server-sent events: output events at completion, then done."""
        rec = self._lookup(pid)
        status = self._wait_for_end(rec, time.monotonic() + 60)
        events = []
        if status == "succeeded":
            events += [("output", u) for u in self._output_urls(rec)]
        elif status == "failed":
            events.append(("error", json.dumps({"detail": FAILURE_ERROR})))
        done = {} if status == "succeeded" else {"reason": status}
        events.append(("done", json.dumps(done)))
        body = "".join(f"event: {e}\nid: {i}\ndata: {d}\n\n" for i, (e, d) in enumerate(events))
        h.reply_bytes(200, body.encode(), "text/event-stream", {"Cache-Control": "no-store"})
