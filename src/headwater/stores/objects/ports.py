"""The object store port: what log shipping needs of GCS or S3 (put a file with its checksum
checked, list, get, delete).

Keys are relative to the URL's prefix (``gs://bucket/prefix`` -> ``prefix/<key>``). Every put is
verified: the store is given the file's MD5 and checks the bytes it received against it, and what
it reports afterwards is compared again; a difference is :class:`ChecksumMismatchError`, never a
silent success. The contract suite (tests/stores/objects) runs against every implementation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

#: called with the number of bytes sent so far (for a progress bar)
Progress = Callable[[int], None]

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str  # relative to the store's prefix
    size: int
    md5: str | None  # hex digest as the store reports it (None: the store does not say)
    version: str | None = None  # GCS generation, S3 ETag/version: changes whenever the object does


class ObjectStoreError(Exception):
    """The object store refused or failed; the message says what and where."""


class ObjectStoreUnreachableError(ObjectStoreError):
    """No answer (network, timeout, 5xx): worth retrying later."""


class ChecksumMismatchError(ObjectStoreError):
    """What the store holds is not the bytes that were sent (or the file changed while sent)."""


class ObjectMissingError(ObjectStoreError):
    """No object under that key."""


class ObjectStore(Protocol):
    """A bucket (and a prefix in it) of an object storage service."""

    #: the URL (no secrets in it), for messages
    display: str

    def put_file(self, key: str, path: Path, md5: str, progress: Progress | None = None) -> ObjectInfo:
        """Upload ``path`` as ``key`` (replacing it), checked by the store against ``md5`` (hex);
        ChecksumMismatchError when the bytes stored are not those."""
        ...

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        """A small object (a manifest entry), verified the same way."""
        ...

    def stat(self, key: str) -> ObjectInfo | None:
        """What the store reports of an object (None: there is none)."""
        ...

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix``, sorted by key."""
        ...

    def get_file(self, key: str, dest: Path) -> ObjectInfo:
        """Download an object to ``dest`` (written whole or not at all), checked against the MD5
        the store reports; ObjectMissingError when there is none."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """A small object's bytes; ObjectMissingError when there is none."""
        ...

    def delete(self, key: str) -> bool:
        """Delete an object; False when there was none."""
        ...

    def close(self) -> None: ...


def file_md5(path: Path) -> str:
    """The hex MD5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_key(key: str) -> str:
    """A key as given, if it is a plain relative path (no empty, '.' or '..' parts)."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") for p in parts):
        raise ObjectStoreError(f"not a valid object key: {key!r}")
    return key
