"""One contract for every object store (DESIGN section 9): GCS through its emulator, S3 through
moto's server, both real HTTP servers driven by the official clients."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from headwater.stores.objects import open_object_store
from headwater.stores.objects.ports import (
    ChecksumMismatchError,
    ObjectMissingError,
    ObjectStore,
    ObjectStoreError,
    ObjectStoreUnreachableError,
    file_md5,
)
from tests.object_stores import StoreServer, free_port


@pytest.fixture
def store(store_server: StoreServer, monkeypatch: pytest.MonkeyPatch) -> ObjectStore:
    return open_object_store(store_server.new_bucket(monkeypatch))


def test_put_a_file_verified_then_stat_list_get_delete(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    src.write_bytes(os.urandom(3 << 20) + b"\n")
    md5 = file_md5(src)
    seen: list[int] = []
    info = store.put_file("log/a.jsonl", src, md5, seen.append)
    assert (info.key, info.size, info.md5) == ("log/a.jsonl", src.stat().st_size, md5)
    assert info.version and seen and seen[-1] == src.stat().st_size
    assert store.stat("log/a.jsonl") == info
    assert store.stat("log/none.jsonl") is None
    store.put_bytes("manifest/a.json", b'{"x": 1}')
    assert [i.key for i in store.list()] == ["log/a.jsonl", "manifest/a.json"]
    assert [i.key for i in store.list("manifest/")] == ["manifest/a.json"]
    dest = tmp_path / "back.jsonl"
    assert store.get_file("log/a.jsonl", dest).md5 == md5
    assert file_md5(dest) == md5
    assert store.get_bytes("manifest/a.json") == b'{"x": 1}'
    assert store.delete("log/a.jsonl") is True
    assert store.delete("log/a.jsonl") is False
    assert [i.key for i in store.list()] == ["manifest/a.json"]
    with pytest.raises(ObjectMissingError):
        store.get_bytes("log/a.jsonl")
    with pytest.raises(ObjectMissingError):
        store.get_file("log/a.jsonl", dest)
    store.close()


def test_a_put_whose_checksum_differs_is_refused(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "b.jsonl"
    src.write_bytes(b'{"a": 1}\n' * 1000)
    wrong = hashlib.md5(b"something else").hexdigest()
    with pytest.raises(ChecksumMismatchError):
        store.put_file("log/b.jsonl", src, wrong)


def test_replacing_an_object_changes_its_version(store: ObjectStore) -> None:
    first = store.put_bytes("k", b"one")
    second = store.put_bytes("k", b"two")
    assert first.version != second.version and store.get_bytes("k") == b"two"


def test_bad_keys_are_refused(store: ObjectStore) -> None:
    for key in ("", "/abs", "a/../b", "a//b"):
        with pytest.raises(ObjectStoreError):
            store.stat(key)


def test_an_unreachable_store_is_an_error_in_seconds(
    store_server: StoreServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("headwater.stores.objects.gcs.CALL_TIMEOUT", 2.0)  # retries end sooner
    dead = f"http://127.0.0.1:{free_port()}"
    for k, v in store_server.env.items():
        monkeypatch.setenv(k, v)
    if store_server.scheme == "gs":
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", dead)
        url = "gs://hw-nowhere/x"
    else:
        url = f"s3://hw-nowhere/x?endpoint={dead}"
    with pytest.raises(ObjectStoreUnreachableError):
        open_object_store(url).list()


@pytest.mark.parametrize(
    "url",
    ["ftp://bucket/x", "gs://", "s3://UPPER/x", "gs://bucket/x?colour=red", "gs://u:p@bucket/x", "bucket/x"],
)
def test_a_malformed_or_unknown_url_names_the_setting(url: str) -> None:
    with pytest.raises(ObjectStoreError, match="HEADWATER_OBJECT_STORE_URL"):
        open_object_store(url)
