"""`s3`: a real S3-compatible server on loopback (moto's server mode) and an empty bucket per test.

Use it with `pytest_plugins = ("tests.s3server",)`. `.ci/moto-venv` builds moto 5.2.6 in a
virtualenv of its own from `.ci/moto.lock` and prints its `moto_server`; WORKBENCH_MOTO_BIN names
it. Without it these tests skip, unless WORKBENCH_REQUIRE_MOTO=1 (CI), where they fail. One server
per session (`moto_server -H 127.0.0.1 -p PORT`, up in about 1 s), stopped at the end.

What moto's server really does, observed with moto 5.2.6 and boto3 1.44 (2026-12-07), and so what
the tests assert:

- It speaks the S3 REST API at `AWS_ENDPOINT_URL=http://127.0.0.1:PORT`; any access key and secret
  are accepted (no IAM unless asked), so credentials are generated per session, and a missing
  credential is boto3's own `NoCredentialsError`, raised before any request is sent.
- Conditional writes: `put_object(IfNoneMatch="*")` on an existing key fails with
  `PreconditionFailed` (HTTP 412); `put_object(IfMatch=ETAG)` with a stale ETag fails the same
  way and with the current one succeeds; `IfMatch` on a missing key fails with `NoSuchKey` (404).
- `head_bucket` on a missing bucket answers 404 (error code "404", no body); `put_object` there
  answers `NoSuchBucket`.
- A bucket policy denying `s3:PutObject` to `*` is enforced: the put answers 403 (error code "403").
  That is the "bucket not writable" case.
- Bucket names are checked (3 to 63 characters): "b1" is `InvalidBucketName`.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.ambient import NO_AMBIENT_AWS

BIN_ENV = "WORKBENCH_MOTO_BIN"
REQUIRE_ENV = "WORKBENCH_REQUIRE_MOTO"


def moto_bin() -> Path:
    named = os.environ.get(BIN_ENV, "")
    if named and Path(named).is_file():
        return Path(named)
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"moto is required here ({REQUIRE_ENV}=1) but {BIN_ENV} names no moto_server: {named!r}")
    pytest.skip(f"{BIN_ENV} is not set (.ci/run builds moto's server from .ci/moto.lock: bash .ci/moto-venv)")


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        """The SDK's own variables for this server (what a worker's environment would hold)."""
        return {
            **NO_AMBIENT_AWS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


@dataclass(frozen=True)
class Bucket:
    server: S3Server
    name: str
    client: Any

    def url(self, prefix: str = "reports") -> str:
        return f"s3://{self.name}/{prefix}"

    def keys(self, prefix: str = "") -> dict[str, int]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", ())}

    def read(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return body

    def deny_writes(self) -> None:
        """A bucket policy refusing every PutObject (moto enforces it: 403)."""
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{self.name}/*",
                }
            ],
        }
        self.client.put_bucket_policy(Bucket=self.name, Policy=json.dumps(policy))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    command = moto_bin()
    port = _free_port()
    process = subprocess.Popen(
        [str(command), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start on 127.0.0.1:{port} (exit {process.poll()})")
                time.sleep(0.1)
        yield S3Server(
            f"http://127.0.0.1:{port}",
            "AKIA" + secrets.token_hex(8).upper(),
            secrets.token_urlsafe(30),
            process,
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    """An empty bucket of this test's own; this process's environment points the SDK at the server."""
    import boto3

    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    client = boto3.session.Session().client("s3")
    name = f"wb-{secrets.token_hex(6)}"
    client.create_bucket(Bucket=name)
    return Bucket(s3_server, name, client)
