"""Replicate's signed webhooks: checking a delivery's signature, reading the account's signing secret."""

from __future__ import annotations

from typing import Any

import replicate
from replicate.webhook import WebhookSigningSecret

WEBHOOK_TOLERANCE = 300  # seconds a webhook's timestamp may be away from our clock
WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class WebhookRefused(Exception):
    """A webhook whose headers or signature do not check out."""


def verify_webhook(headers: Any, body: str, secret: str) -> None:
    """Replicate's signature (Standard Webhooks), through the client's own check: HMAC-SHA256 over
    "{id}.{timestamp}.{body}" keyed with the base64 part of the whsec_ secret, any `v1,<b64>` entry of
    `webhook-signature` may match, compared in constant time; a timestamp over 5 minutes away is refused."""
    given = {name: headers.get(name) for name in WEBHOOK_HEADERS}
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise WebhookRefused(f"missing header {missing[0]}")
    if not given["webhook-timestamp"].isdecimal():
        raise WebhookRefused("webhook-timestamp is not a Unix time")
    try:
        replicate.webhooks.validate(
            headers=given, body=body, secret=WebhookSigningSecret(key=secret), tolerance=WEBHOOK_TOLERANCE
        )
    except ValueError as exc:  # WebhookValidationError and base64's binascii.Error are ValueErrors
        raise WebhookRefused(str(exc) or exc.__class__.__name__) from None


def fetch_webhook_secret(client: replicate.Client) -> str:
    """The account's signing secret (GET /v1/webhooks/default/secret): a read, so the caller spends a token."""
    return client.webhooks.default.secret().key
