"""The lake mirrored through a real GCS emulator: a push publishes a generation, a pull makes
another host's lake the same, objects no index names are deleted, a lost lease publishes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.cluster.lake_mirror import INDEX, OBJECTS, LeaseLostError, local_files, pull, push, read_index
from headwater.stores.objects import open_object_store
from tests.object_stores import StoreServer


def _tree(root: Path) -> dict[str, bytes]:
    return {rel: (root / rel).read_bytes() for rel in local_files(root)}


def test_push_then_pull_makes_the_same_lake(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = open_object_store(gcs.new_bucket(monkeypatch))
    a, b = tmp_path / "a" / "lake", tmp_path / "b" / "lake"
    (a / "events" / "date=2026-12-01").mkdir(parents=True)
    (a / "events" / "date=2026-12-01" / "recv-20261201.parquet").write_bytes(b"one")
    (a / "_etl").mkdir()
    (a / "_etl" / "recv=20261201.json").write_text("{}")
    (a / "user_days.parquet").write_bytes(b"one")  # same bytes: one object
    (a / ".tmp").mkdir()
    (a / ".tmp" / "scratch").write_bytes(b"not mirrored")
    (a / ".etl.lock").write_bytes(b"")

    assert pull(b, store, tmp_path / "b.json").unchanged  # nothing pushed yet: nothing changes
    first = push(a, store, tmp_path / "a.json", "host-a")
    assert (first.generation, first.files, first.uploaded) == (1, 3, 2)
    assert push(a, store, tmp_path / "a.json", "host-a").unchanged  # nothing changed: no new generation
    got = pull(b, store, tmp_path / "b.json")
    assert (got.generation, got.downloaded) == (1, 3)
    assert _tree(b) == {k: v for k, v in _tree(a).items()} and ".tmp" not in str(local_files(a))

    # the holder rewrites one file and drops another; the reader follows, and stray files go
    (a / "events" / "date=2026-12-01" / "recv-20261201.parquet").write_bytes(b"two")
    (a / "user_days.parquet").unlink()
    (b / "events" / "stray.parquet").write_bytes(b"stray")
    second = push(a, store, tmp_path / "a.json", "host-a")
    assert (second.generation, second.uploaded, second.deleted) == (2, 1, 1)  # b"one" is no longer named
    again = pull(b, store, tmp_path / "b.json")
    assert (again.downloaded, again.deleted) == (1, 2)
    assert _tree(b) == _tree(a)
    index = read_index(store)
    assert index is not None and index["holder"] == "host-a" and index["generation"] == 2
    assert {o.key for o in store.list(OBJECTS)} == {OBJECTS + f["md5"] for f in index["files"].values()}


def test_a_lost_lease_publishes_nothing(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = open_object_store(gcs.new_bucket(monkeypatch))
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "a.parquet").write_bytes(b"a")
    push(lake, store, tmp_path / "c.json", "host-a")
    before = store.get_bytes(INDEX)
    (lake / "a.parquet").write_bytes(b"changed by a holder that lost its lease")
    with pytest.raises(LeaseLostError):
        push(lake, store, tmp_path / "c.json", "host-a", still_held=lambda: False)
    assert store.get_bytes(INDEX) == before
