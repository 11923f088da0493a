"""Presigned GET URLs that stay the same for a whole period: a UTC day for the admin's pages, half an hour for
links handed to others (the gallery feed), which cannot be revoked and so must end soon.

botocore's `generate_presigned_url` signs at the current second, so every page view would get a new URL (a new
ETag for the page, nothing cacheable in the browser). Here the signing time is fixed to the start of the
current period and the URL lasts two periods: the same URL all period, and it still has at least one period to
run when a page hands it out (a day's: 24 to 48 h; a half hour's: 30 to 60 min). botocore builds the address
itself (endpoint, bucket addressing, the key's quoting) through an unsigned client; `DatedQueryAuth` then signs
it with SigV4 query parameters at that fixed time.

With temporary credentials (an instance role, `AWS_SESSION_TOKEN`) a URL also stops working when they
expire, and changes when they rotate: S3 checks the session token it carries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.auth import SIGV4_TIMESTAMP, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import NoCredentialsError

DAY = timedelta(days=1)  # the admin's pages: signed at 00:00 UTC, valid until the end of the next day
SHORT = timedelta(minutes=30)  # links handed to others: valid an hour at most, 30 to 60 min when handed out
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def signing_time(now: datetime, period: timedelta = DAY) -> datetime:
    """The start of `now`'s period (UTC days, or half hours): the signing time of every URL handed out in it."""
    return EPOCH + (now.astimezone(UTC) - EPOCH) // period * period


class DatedQueryAuth(S3SigV4QueryAuth):
    """SigV4 query signing (`X-Amz-Signature` in the URL) at a given time instead of now.

    The same steps as botocore's `SigV4Auth.add_auth`, which reads the clock itself and has no parameter
    for the time."""

    def __init__(self, credentials: Any, region_name: str, signed_at: datetime, expires: timedelta) -> None:
        super().__init__(credentials, "s3", region_name, expires=int(expires.total_seconds()))
        self.signed_at = signed_at

    def add_auth(self, request: AWSRequest) -> None:
        if self.credentials is None:
            raise NoCredentialsError()
        request.context["timestamp"] = self.signed_at.astimezone(UTC).strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        string_to_sign = self.string_to_sign(request, self.canonical_request(request))
        self._inject_signature_to_request(request, self.signature(string_to_sign, request))


def presign_get(unsigned_url: str, credentials: Any, region_name: str, now: datetime, period: timedelta = DAY) -> str:
    """`unsigned_url` (a GET of one object) signed at the start of `now`'s period, valid for two periods."""
    request = AWSRequest(method="GET", url=unsigned_url)
    DatedQueryAuth(credentials, region_name, signing_time(now, period), 2 * period).add_auth(request)
    return str(request.prepare().url)
