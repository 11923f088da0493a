"""Media in an S3 bucket (or an S3-compatible store), for web servers and consumers on several machines.

Chosen when `S3_BUCKET` is set (`app.services`); the keys are the local folder's. Uploads stream: boto3's
`upload_fileobj` reads the chunks through `ChunkStream` one part at a time (a multipart upload above
`PART_SIZE`), so an image is never held whole in memory. An object appears only when its upload completes
(a failed multipart upload is aborted), so nothing half-written is ever stored under a real key.

Pages link to the objects directly: `S3_PUBLIC_BASE_URL` + key when the bucket (or a CDN before it) is public,
else a presigned GET URL that stays the same for the whole UTC day (`presign`); the gallery feed's presigned
URLs (`short_url`) last an hour at most, since a presigned URL cannot be revoked.
"""

from __future__ import annotations

import mimetypes
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.core.s3_settings import S3Settings
from app.storage.base import StorageError, checked_key
from app.storage.presign import DAY, SHORT, presign_get, signing_time

PART_SIZE = 8 * 1024 * 1024  # S3's parts are 5 MiB at least (but the last); 8 MiB is boto3's default
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
EXISTS_TTL = 60.0  # seconds an answer of `exists` is kept: the pages ask it for every card's reference photo
# Presigned URLs kept per process: a gallery page hands out about 200 (three sizes and a reference photo a card),
# and signing one costs about 0.3 ms; a URL is the same all day (or half hour), so it is signed once a day (or
# half hour; about 0.5 KB each)
SIGNED_URLS_KEPT = 10_000
EXISTS_KEPT = 20_000  # answers kept at most (then forgotten at once): a long-running process stays small
NOT_FOUND = ("404", "NoSuchKey", "NotFound")
UPLOADS_IN_FLIGHT = 4  # per process (a consumer, or `media migrate` with its own workers)


def content_type(key: str) -> str:
    extension = key.rsplit(".", 1)[-1].lower() if "." in key else ""
    return CONTENT_TYPES.get(extension) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def s3_session(settings: S3Settings) -> boto3.session.Session:
    """A boto3 session with the `AWS_*` credentials of the settings, or boto3's own chain without them."""
    return boto3.session.Session(
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        aws_session_token=settings.session_token,
        region_name=settings.region,
    )


def s3_client(settings: S3Settings, *, session: Any = None, unsigned: bool = False, pool_size: int = 32) -> Any:
    """A boto3 S3 client for these settings. Checksums only when an operation requires one: since boto3 1.36
    every upload carries a CRC by default, which some S3-compatible stores refuse."""
    config = Config(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=pool_size,
        # S3-compatible stores (and moto) answer at one host: the bucket goes in the path
        s3={"addressing_style": "path"} if settings.endpoint_url else None,
        signature_version=UNSIGNED if unsigned else None,
    )
    session = session or s3_session(settings)
    return session.client("s3", endpoint_url=settings.endpoint_url, config=config)


def failure(action: str, key: str, exc: Exception) -> StorageError:
    """A boto3 error as a StorageError naming the action and the key (never the credentials)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        reason = f"{error.get('Code', '?')}: {error.get('Message', '')}".rstrip(": ")
    else:
        reason = f"{exc.__class__.__name__}: {exc}"
    return StorageError(f"S3 could not {action} {key}: {reason}")


class ChunkStream:
    """A read-only, unseekable file over an iterable of byte chunks, what `upload_fileobj` reads its parts
    from. `read(n)` returns exactly n bytes until the end (a short part would be refused by S3), holding at
    most one part and one chunk."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buffer = bytearray()
        self.size = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int | None = -1) -> bytes:
        while size is None or size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
            self.size += len(chunk)
        end = len(self._buffer) if size is None or size < 0 else size
        with memoryview(self._buffer) as view:  # one copy of the part, not two
            data = bytes(view[:end])
        del self._buffer[:end]
        return data


class S3Storage:
    """The `Storage` protocol on one bucket. The client is built on first use (a CLI command that never
    touches media does not pay for it) and shared by every thread."""

    def __init__(
        self,
        settings: S3Settings,
        *,
        part_size: int = PART_SIZE,
        pool_size: int = 32,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        assert settings.bucket, "S3Storage needs S3_BUCKET"
        self.settings, self.bucket = settings, settings.bucket
        self.transfer = TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size, use_threads=False)
        self._pool_size, self._clock = pool_size, clock
        self._session = s3_session(settings)
        self._client: Any = None
        self._unsigned: Any = None
        self._origin: str | None = None
        self._known: dict[str, tuple[bool, float]] = {}  # key -> (exists, when asked)
        self._signed = lru_cache(maxsize=SIGNED_URLS_KEPT)(self._sign)  # (key, time, period, credentials) -> URL
        self._lock = threading.Lock()
        # Uploads run on a few threads of their own, not on the 20 item threads of a job: each upload holds its
        # part and boto3's copy, and glibc keeps what a thread freed in that thread's own malloc arena, so 20
        # uploading threads held ~60 MB more at peak (benchmark 11). A few at a time keep the bucket as fast.
        self._uploaders = ThreadPoolExecutor(max_workers=UPLOADS_IN_FLIGHT, thread_name_prefix="s3-upload")

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = s3_client(self.settings, session=self._session, pool_size=self._pool_size)
        return self._client

    def _remember(self, key: str, exists: bool) -> None:
        if len(self._known) >= EXISTS_KEPT:
            self._known = {}
        self._known[key] = (exists, time.monotonic())

    # -- writing ---------------------------------------------------------------------------------------
    def save_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """Upload `chunks` to `key` (multipart above one part); return the number of bytes written."""
        stream = ChunkStream(chunks)
        extra = {"ContentType": content_type(checked_key(key))}
        try:
            upload = self._uploaders.submit(
                self.client.upload_fileobj, stream, self.bucket, key, ExtraArgs=extra, Config=self.transfer
            )
            upload.result()
        except (BotoCoreError, ClientError, Boto3Error) as exc:
            raise failure("store", key, exc) from None
        self._remember(key, True)
        return stream.size

    def save_bytes(self, key: str, data: bytes) -> int:
        return self.save_stream(key, [data])

    def read_bytes(self, key: str) -> bytes:
        """The whole object; FileNotFoundError when the bucket does not hold it (as the local folder says)."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=checked_key(key))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(key) from None
            raise failure("read", key, exc) from None
        except BotoCoreError as exc:
            raise failure("read", key, exc) from None

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=checked_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise failure("delete", key, exc) from None
        self._remember(key, False)

    def delete_tree(self, prefix: str) -> None:
        """Delete every object under `prefix/`, a listed page (up to 1,000 keys) per delete request."""
        prefix = checked_key(prefix).rstrip("/") + "/"
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if not objects:
                    continue
                answer = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
                if answer.get("Errors"):
                    first = answer["Errors"][0]
                    raise StorageError(f"S3 could not delete {first.get('Key')}: {first.get('Code')}")
        except (BotoCoreError, ClientError) as exc:
            raise failure("delete under", prefix, exc) from None
        with self._lock:
            self._known = {k: v for k, v in self._known.items() if not k.startswith(prefix)}

    # -- reading ---------------------------------------------------------------------------------------
    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is none."""
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=checked_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
                self._remember(key, False)
                return None
            raise failure("read", key, exc) from None
        except BotoCoreError as exc:
            raise failure("read", key, exc) from None
        self._remember(key, True)
        return int(answer["ContentLength"])

    def exists(self, key: str) -> bool:
        """Asked for each card's reference photo on every page: an answer is kept for `EXISTS_TTL` seconds
        (writes and deletes through this storage update it at once)."""
        known = self._known.get(key)
        if known and time.monotonic() - known[1] < EXISTS_TTL:
            return known[0]
        return self.size(key) is not None

    def sizes_under(self, prefix: str) -> dict[str, int]:
        """Every key under `prefix` with its size (one listing, paginated), for `media migrate`."""
        sizes: dict[str, int] = {}
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                sizes.update((item["Key"], int(item["Size"])) for item in page.get("Contents", []))
        except (BotoCoreError, ClientError) as exc:
            raise failure("list", prefix or "the bucket", exc) from None
        return sizes

    # -- addresses -------------------------------------------------------------------------------------
    def url(self, key: str) -> str:
        """`S3_PUBLIC_BASE_URL` + key, else a presigned GET URL that is the same all day (see `presign`)."""
        return self._address(key, DAY)

    def short_url(self, key: str) -> str:
        """`S3_PUBLIC_BASE_URL` + key, else a presigned GET URL that is the same for half an hour and works for
        an hour at most: what the gallery feed hands out, since a presigned URL cannot be revoked."""
        return self._address(key, SHORT)

    def _address(self, key: str, period: timedelta) -> str:
        checked_key(key)
        if self.settings.public_base_url:
            return f"{self.settings.public_base_url}/{quote(key)}"
        credentials = self._session.get_credentials()  # the client's own: AWS_*, a profile or a role
        if credentials is None:
            raise StorageError("S3 has no credentials to sign URLs with: set AWS_ACCESS_KEY_ID and the secret")
        frozen = credentials.get_frozen_credentials()  # a role's are refreshed here when they near their end
        signed_at = signing_time(self._clock(), period)
        return self._signed(key, signed_at, period, frozen)  # rotated credentials sign anew

    def _sign(self, key: str, signed_at: datetime, period: timedelta, credentials: Any) -> str:
        return presign_get(self._unsigned_url(key), credentials, self.settings.region, signed_at, period)

    def _unsigned_url(self, key: str) -> str:
        """The object's address as botocore builds it (endpoint, addressing style, quoting), unsigned."""
        if self._unsigned is None:
            with self._lock:  # a boto3 session builds one client at a time
                self._unsigned = self._unsigned or s3_client(self.settings, session=self._session, unsigned=True)
        return str(self._unsigned.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key}))

    @property
    def url_origin(self) -> str:
        """The origin every URL of this storage has: the public base URL's, or the bucket's."""
        if self._origin is None:
            parts = urlsplit(self.settings.public_base_url or self._unsigned_url("origin-probe"))
            self._origin = f"{parts.scheme}://{parts.netloc}"
        return self._origin
