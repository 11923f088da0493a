"""Webhooks as Replicate sends them: one POST per event a prediction has, signed (Standard Webhooks), the final
one retried; and the faults a test turns on (drops, duplicates, delays, reordering, forged headers)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import math
import threading
import time
from urllib.parse import urlsplit

from tests.replicate_server.state import TERMINAL, Prediction, ended_at, final, state_at

WEBHOOK_EVENTS = ("start", "output", "logs", "completed")  # webhook_events_filter values
_MISSING = {  # webhook_forge values that leave a header out
    "missing_id": "webhook-id",
    "missing_timestamp": "webhook-timestamp",
    "missing_signature": "webhook-signature",
    "missing_header": "webhook-signature",
}


def sign_webhook(secret: str, msg_id: str, timestamp: int | str, body: str) -> str:
    """Standard Webhooks signature, as Replicate sends it: ``v1,<base64 HMAC-SHA256>`` of
    ``"{id}.{timestamp}.{body}"`` keyed with the base64-decoded part of ``whsec_...``."""
    key = base64.b64decode(secret.split("_", 1)[1])
    mac = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """POST without following redirects (Replicate does not). (status, None) or (None, error)."""
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=timeout)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", target, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, None
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


class Webhooks:
    """Scheduling, faults and delivery of webhooks; knobs and records reset with the server."""

    _lock: threading.RLock
    _gen: int

    def _reset_webhooks(self) -> None:
        self.webhook_retry_delays: list[float] = [1.0, 2.0, 4.0, 8.0, 15.0, 30.0]  # ~1 min
        self.webhook_timeout = 5.0
        self.webhook_delay = 0.0  # extra seconds before every delivery
        self.webhook_drop_rate = 0.0  # share of deliveries never sent
        self.webhook_duplicate_rate = 0.0  # share of deliveries sent twice (same webhook-id)
        self.webhook_duplicate_delay = 0.05
        self.webhook_reorder_window: float | None = None  # hold "completed" deliveries this
        # long, then send the batch latest-ended first (earlier-ended predictions arrive last)
        self.webhook_forge: str | None = None  # "bad_signature", "stale_timestamp",
        # "missing_id", "missing_timestamp", "missing_signature" (alias "missing_header")
        self.webhook_stale_seconds = 600.0
        self.webhooks: list[dict] = []  # every delivery attempt made, in order
        self.webhook_dropped: list[dict] = []  # deliveries dropped by webhook_drop_rate
        self._reorder_buf: list[dict] = []

    def _completed_targets(self, rec: Prediction) -> list[str]:
        urls = []
        if rec.webhook and "completed" in rec.events:
            urls.append(rec.webhook)
        if rec.webhook_completed and rec.webhook_completed not in urls:
            urls.append(rec.webhook_completed)
        return urls

    def _schedule_webhooks(self, rec: Prediction) -> None:
        """At create: one timer per event the prediction will have (a cancel adds its own)."""
        if not rec.webhook and not rec.webhook_completed:
            return
        gen = self._gen
        status, started, ended = final(rec)
        if rec.webhook and started is not None and math.isfinite(rec.start):
            for event in ("start", "logs"):
                if event in rec.events:
                    self._at(rec.start, self._fire, gen, rec, event, rec.webhook)
        if rec.webhook and "output" in rec.events and status == "succeeded" and math.isfinite(ended):
            self._at(ended, self._fire, gen, rec, "output", rec.webhook)
        if math.isfinite(ended):
            for url in self._completed_targets(rec):
                self._at(ended, self._fire, gen, rec, "completed", url)

    def _chance(self, key: str) -> float:
        """A repeatable number in [0, 1) per key (independent of thread timing)."""
        digest = hashlib.sha256(f"{self._seed_key}:{key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64

    def _fire(self, gen: int, rec: Prediction, event: str, url: str) -> None:
        """A prediction event is due: snapshot its JSON and hand it to delivery."""
        if gen != self._gen:
            return
        with self._lock:
            now = time.monotonic()
            if not self._happened(gen, rec, event, url, now):
                return
            body = self._expanded_text(self._to_json(rec, now))
        msg_id = "msg_" + hashlib.sha256(f"{self._seed_key}:{rec.id}:{event}:{url}".encode()).hexdigest()[:27]
        delivery = {
            "prediction_id": rec.id,
            "event": event,
            "url": url,
            "webhook_id": msg_id,
            "body": body,
            "ended": ended_at(rec),
            "attempt": 0,
            "duplicate": False,
            "gen": gen,
            "retry": event == "completed",
        }  # Replicate retries only the final event
        if not self._dropped(delivery, now):
            self._post_later(delivery, now, gen)

    def _happened(self, gen: int, rec: Prediction, event: str, url: str, now: float) -> bool:
        """Whether ``event`` is to be told now (a completion is told once per URL). Under the lock."""
        status = state_at(rec, now)[0]
        if event == "completed":
            if status not in TERMINAL:  # a timer a hair early
                self._at(ended_at(rec), self._fire, gen, rec, event, url)
                return False
            if url in rec.completed_sent:  # already sent (cancelled before its natural end)
                return False
            rec.completed_sent.add(url)
            return True
        if rec.canceled_at is not None and rec.canceled_at <= now:
            return False  # cancelled before this event happened
        return event != "output" or status == "succeeded"

    def _dropped(self, delivery: dict, now: float) -> bool:
        """Drop ``webhook_drop_rate`` of the deliveries (recorded in ``webhook_dropped``)."""
        rate = self.webhook_drop_rate
        if not (rate > 0 and self._chance(f"drop:{delivery['webhook_id']}") < rate):
            return False
        with self._lock:
            self.webhook_dropped.append(
                {k: delivery[k] for k in ("prediction_id", "event", "url", "webhook_id")} | {"time": now}
            )
        return True

    def _post_later(self, delivery: dict, now: float, gen: int) -> None:
        """Send after ``webhook_delay``, a completion held for the reorder window, maybe a duplicate too."""
        window = self.webhook_reorder_window
        if delivery["event"] == "completed" and window:
            with self._lock:
                self._reorder_buf.append(delivery)
                first = len(self._reorder_buf) == 1
            if first:
                self._at(now + window + self.webhook_delay, self._flush_reorder, gen)
        else:
            self._at(now + self.webhook_delay, self._send, delivery)
        rate = self.webhook_duplicate_rate
        if rate > 0 and self._chance(f"dup:{delivery['webhook_id']}") < rate:
            twin = dict(delivery, duplicate=True, retry=False)
            self._at(now + self.webhook_delay + (window or 0) + self.webhook_duplicate_delay, self._send, twin)

    def _flush_reorder(self, gen: int) -> None:
        if gen != self._gen:
            return
        with self._lock:
            batch, self._reorder_buf = self._reorder_buf, []
        for delivery in sorted(batch, key=lambda d: d["ended"], reverse=True):
            self._send(delivery)

    def _signed_headers(self, delivery: dict, timestamp: int) -> dict[str, str]:
        """The headers Replicate sends, forged as ``webhook_forge`` says."""
        forge = self.webhook_forge
        secret = self.webhook_secret
        if forge == "bad_signature":
            secret = "whsec_" + base64.b64encode(b"not the account's webhook secret").decode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "replicate-fake-webhook/1.0",
            "webhook-id": delivery["webhook_id"],
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_webhook(secret, delivery["webhook_id"], timestamp, delivery["body"]),
        }
        if forge in _MISSING:
            del headers[_MISSING[forge]]
        return headers

    def _send(self, delivery: dict) -> None:
        if delivery["gen"] != self._gen or self._stop_event.is_set():
            return
        forge = self.webhook_forge
        timestamp = int(time.time())
        if forge == "stale_timestamp":
            timestamp -= int(self.webhook_stale_seconds)
        headers = self._signed_headers(delivery, timestamp)
        status, error = post(delivery["url"], delivery["body"].encode(), headers, self.webhook_timeout)
        with self._lock:
            if delivery["gen"] != self._gen:
                return
            self.webhooks.append(
                {
                    "time": time.monotonic(),
                    "prediction_id": delivery["prediction_id"],
                    "event": delivery["event"],
                    "url": delivery["url"],
                    "webhook_id": delivery["webhook_id"],
                    "timestamp": timestamp,
                    "attempt": delivery["attempt"],
                    "duplicate": delivery["duplicate"],
                    "forged": forge,
                    "status": status,
                    "error": error,
                    "headers": headers,
                    "body": delivery["body"],
                }
            )
            delays = list(self.webhook_retry_delays)
        ok = status is not None and 200 <= status < 300
        if not ok and delivery["retry"] and delivery["attempt"] < len(delays):
            retry = dict(delivery, attempt=delivery["attempt"] + 1)
            self._at(time.monotonic() + delays[delivery["attempt"]], self._send, retry)

    def webhook_deliveries(self, prediction_id: str | None = None, event: str | None = None) -> list[dict]:
        """Delivery attempts made (see ``webhooks``), filtered."""
        with self._lock:
            return [
                w
                for w in self.webhooks
                if (prediction_id is None or w["prediction_id"] == prediction_id)
                and (event is None or w["event"] == event)
            ]
