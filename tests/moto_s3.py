"""moto's S3 in server mode, started by the suite on 127.0.0.1 (never AWS): a subprocess, so a test that
measures this process's memory does not count the objects moto keeps."""

from __future__ import annotations

import subprocess
import sys
import uuid

import boto3
import pytest
from botocore.config import Config

ACCESS_KEY, SECRET_KEY, REGION = "testing-key-id", "testing-secret-key", "us-east-1"
SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # serve until the suite closes our stdin (or ends)
"""


class MotoS3:
    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # werkzeug's line per request
            text=True,
        )
        assert self.process.stdout is not None
        port = self.process.stdout.readline().strip()
        if not port.isdigit():
            self.stop()
            raise RuntimeError(f"moto's server did not start (it printed {port!r})")
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def client(self):
        """A plain boto3 client on the server (SigV4, as AWS wants it), for the tests' own checks."""
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def new_bucket(self, name: str | None = None) -> str:
        name = name or f"media-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self, bucket: str | None = None, **extra) -> dict:
        """What `make_app` needs for media in `bucket` (S3_BUCKET unset when None) on this server."""
        env = {
            "S3_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
        }
        if bucket:
            env["S3_BUCKET"] = bucket
        return env | extra

    def keys(self, bucket: str, prefix: str = "") -> dict[str, int]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", [])}


@pytest.fixture(scope="session")
def moto_s3():
    server = MotoS3()
    yield server
    server.stop()
