"""Object storage servers for the tests, on free local ports, stopped at teardown: the GCS emulator
(gcp-storage-emulator, in a thread of the test process) and moto's S3 server (ThreadedMotoServer).
Each test gets a bucket of its own."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

_names = itertools.count()
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StoreServer:
    scheme: str
    endpoint: str
    env: dict[str, str]

    def new_bucket(self, monkeypatch: pytest.MonkeyPatch, prefix: str = "hw/logs") -> str:
        """A fresh bucket; the URL of a prefix in it (the environment set for the client)."""
        for k, v in self.env.items():
            monkeypatch.setenv(k, v)
        name = f"hw-test-{next(_names)}"
        self.client().create_bucket(**({"Bucket": name} if self.scheme == "s3" else {"bucket_or_name": name}))
        query = f"?endpoint={self.endpoint}" if self.scheme == "s3" else ""
        return f"{self.scheme}://{name}/{prefix}{query}"

    def client(self) -> Any:
        if self.scheme == "s3":
            import boto3

            return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(project="test", credentials=AnonymousCredentials())

    def overwrite(self, url: str, key: str, data: bytes) -> None:
        """Replace an object behind the store's back (a corrupted or tampered object)."""
        bucket, _, rest = url.split("://", 1)[1].partition("/")
        full = f"{rest.split('?', 1)[0]}/{key}"
        if self.scheme == "s3":
            self.client().put_object(Bucket=bucket, Key=full, Body=data)
        else:
            self.client().bucket(bucket).blob(full).upload_from_string(data)


@contextmanager
def gcs_server(host: str = "127.0.0.1") -> Iterator[StoreServer]:
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server(host, port, in_memory=True)
    server.start()
    try:
        yield StoreServer("gs", f"http://{host}:{port}", {"STORAGE_EMULATOR_HOST": f"http://{host}:{port}"})
    finally:
        server.stop()


@contextmanager
def s3_server() -> Iterator[StoreServer]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield StoreServer("s3", f"http://127.0.0.1:{port}", dict(AWS_ENV))
    finally:
        server.stop()


SERVERS = {"gs": gcs_server, "s3": s3_server}
