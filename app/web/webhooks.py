"""Replicate's webhooks: `POST /hooks/replicate`, called by Replicate, not by an admin.

No session and no CSRF token (`auth` lets /hooks/ through); the signature is the only credential.
A delivery that does not verify gets 401 and changes nothing. A verified completion is recorded
(idempotent on `webhook-id` and on the prediction id) and wakes the item waiting for it in a
consumer; the answer is quick, and the item downloads the output itself. When the completion cannot be
recorded (Redis or the database down) the answer is a 503 with `Retry-After` (`errors`): Replicate retries.
"""

from __future__ import annotations

import logging

import httpx
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from replicate.exceptions import ReplicateError
from werkzeug.wrappers import Response

from app.core.safe_json import JSONInputError, loads_checked
from app.providers.replicate.readings import FINISHED
from app.providers.replicate.signatures import WEBHOOK_HEADERS, WebhookRefused, verify_webhook
from app.web.context import services
from app.web.errors import unavailable

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)
RESULTS = {200: "accepted", 400: "malformed", 401: "refused", 503: "unavailable"}


@bp.after_request
def count_delivery(response: Response) -> Response:
    """Each delivery counted by its result, for /metrics (in Redis: every web worker adds to the same count)."""
    counts = services().metric_counts()
    if counts is not None:
        counts.add(f"webhooks:{RESULTS.get(response.status_code, str(response.status_code))}")
    return response


def _answer(status: int, **body: object) -> tuple[Response, int]:
    return jsonify(body), status


@bp.post("/hooks/replicate")
def replicate_webhook() -> ResponseReturnValue:
    try:
        body = request.get_data(cache=False).decode("utf-8")
    except UnicodeDecodeError:
        return _answer(401, success=False, error="the body is not UTF-8, so its signature cannot match")
    missing = [name for name in WEBHOOK_HEADERS if not request.headers.get(name)]
    if missing:  # refused before the secret is needed: junk requests never cost a read of it
        return _answer(401, success=False, error=f"webhook refused: missing header {missing[0]}")
    try:
        secret = services().webhook_secret()
    except (ReplicateError, httpx.HTTPError, OSError) as exc:  # Replicate retries the delivery later
        log.warning("webhook: could not read the signing secret from Replicate: %s", exc)
        return unavailable("The signing secret is not available yet.")
    try:
        verify_webhook(request.headers, body, secret)
    except WebhookRefused as exc:
        log.warning("webhook refused (%s) from %s", exc, request.remote_addr)
        return _answer(401, success=False, error=f"webhook refused: {exc}")
    try:
        prediction = loads_checked(body)  # as every JSON body: bounded depth, finite numbers, storable text
    except JSONInputError as exc:
        return _answer(400, success=False, error=str(exc))
    if not isinstance(prediction, dict) or not isinstance(prediction.get("id"), str):
        return _answer(400, success=False, error="the body is not a prediction")
    prediction_id = prediction["id"]
    if prediction.get("status") not in FINISHED:  # not a completion (we only ask for those): nothing to do
        return _answer(200, success=True, recorded=False)
    completions = services().completions()
    outcome = completions.record(request.headers["webhook-id"], prediction_id, prediction)
    if not completions.expected(prediction_id):
        log.warning("webhook for prediction %s, which no consumer is waiting for: acknowledged", prediction_id)
    return _answer(200, success=True, recorded=outcome == "recorded")
