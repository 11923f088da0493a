"""How to reach S3 (or an S3-compatible store), read from the environment with the rest of the settings.

The connection (region, endpoint, credentials) is always read: `models sync` lists a bucket even when media
stays in the local folder. `S3_BUCKET` is what moves media into a bucket. Credentials are the standard `AWS_*`
variables; when they are not set, boto3's own chain (a profile, an instance role) applies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.core.env_values import ConfigError

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")  # S3's rules for bucket names
REGION = re.compile(r"^[a-z0-9-]{2,32}$")
HTTP_URL = re.compile(r"^https?://[^/\s?#@]+(/[^\s?#]*)?$")
DEFAULT_REGION = "us-east-1"


class S3SettingsError(ConfigError):
    """An S3 variable is invalid; the message names it."""


@dataclass(frozen=True)
class S3Settings:
    region: str = DEFAULT_REGION
    bucket: str | None = None  # set: outputs, sizes and reference photos go to this bucket
    endpoint_url: str | None = None  # an S3-compatible store (MinIO, R2…), or moto in the tests
    public_base_url: str | None = None  # pages link to base + key instead of presigned URLs
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @property
    def enabled(self) -> bool:
        return self.bucket is not None

    def public_url_base(self, bucket: str) -> str:
        """The bucket's public https address on AWS (`https://B.s3.<region>.amazonaws.com`)."""
        return f"https://{bucket}.s3.{self.region}.amazonaws.com"


def _url(environ: Mapping[str, str], name: str) -> str | None:
    value = (environ.get(name) or "").strip().rstrip("/") or None
    if value and not HTTP_URL.match(value):
        raise S3SettingsError(f"{name} must be an http(s) URL like https://s3.example.com, got {value!r}")
    return value


def load_s3_settings(environ: Mapping[str, str]) -> S3Settings:
    bucket = (environ.get("S3_BUCKET") or "").strip() or None
    if bucket and not BUCKET_NAME.match(bucket):
        raise S3SettingsError(
            f"S3_BUCKET must be a bucket name (3-63 lowercase letters, digits, '.' or '-'), got {bucket!r}"
        )
    region = (environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION).strip()
    if not REGION.match(region):
        raise S3SettingsError(f"AWS_REGION must be a region name like eu-west-1, got {region!r}")
    public_base_url = _url(environ, "S3_PUBLIC_BASE_URL")
    if public_base_url and not bucket:
        raise S3SettingsError("S3_PUBLIC_BASE_URL is set but S3_BUCKET is not: set the bucket the URLs point to")
    key_id, secret = environ.get("AWS_ACCESS_KEY_ID") or None, environ.get("AWS_SECRET_ACCESS_KEY") or None
    if bool(key_id) != bool(secret):
        raise S3SettingsError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
    return S3Settings(
        region=region,
        bucket=bucket,
        endpoint_url=_url(environ, "S3_ENDPOINT_URL"),
        public_base_url=public_base_url,
        access_key_id=key_id,
        secret_access_key=secret,
        session_token=environ.get("AWS_SESSION_TOKEN") or None,
    )
