"""One pipeline over every host's log (docs/scale-out.md), with a real PostgreSQL for the leases
and a real GCS emulator for the shipped files and the lake: hosts are data directories with their
own writer ids, each taking its turn as its scheduler would."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from headwater.cluster.jobs import PIPELINE
from headwater.cluster.lake_mirror import local_files
from headwater.cluster.turn import take_turn
from headwater.config import Settings
from headwater.stores.sql.leases import LeaseStore
from tests.batch.logdata import ev, write_log
from tests.object_stores import StoreServer

DAY = date(2026, 12, 8)
NOW = datetime(2026, 12, 9, 1, 0, tzinfo=UTC)  # the day is closed: shipped and loaded


def _host(root: Path, name: str, bucket: str, pg: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=root / name, writer_id=name, object_store_url=bucket, database_url=pg, cluster=True
    )


def _events(host: Settings, users: range, mids: list[str] | None = None) -> None:
    ids: list[str | None] = list(mids) if mids else [None] * len(users)
    rows = [ev(f"{DAY}T10:{i % 60:02d}:00Z", user=f"u{i}", mid=ids[k]) for k, i in enumerate(users)]
    write_log(host.data_dir, rows, writer=host.writer_id)


def _lake_rows(host: Settings) -> tuple[int, int, int]:
    files = [
        str(host.data_dir / "lake" / f)
        for f in local_files(host.data_dir / "lake")
        if f.startswith("events/")
    ]
    row = (
        duckdb.connect()
        .execute(
            f"SELECT count(*), count(DISTINCT message_id), count(DISTINCT user_id) FROM read_parquet({files})"
        )
        .fetchone()
    )
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def test_one_host_loads_every_hosts_files_and_the_others_read_its_lake(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str
) -> None:
    bucket = gcs.new_bucket(monkeypatch)
    a, b, c = (_host(tmp_path, n, bucket, pg_url) for n in ("host-a", "host-b", "host-c"))
    _events(a, range(0, 30))
    # a retried request acknowledged by two hosts: the same messages in both logs, loaded once
    _events(b, range(30, 50), mids=[f"b{i}" for i in range(20)])
    _events(b, range(50, 55), mids=["dup-1", "dup-2", "dup-3", "dup-4", "dup-5"])
    _events(a, range(50, 55), mids=["dup-1", "dup-2", "dup-3", "dup-4", "dup-5"])

    b_turn = take_turn(b, NOW)  # b ships first; it takes the lease and loads what is shipped: b's own
    assert b_turn.errors == {} and b_turn.pipeline is not None and b_turn.pipeline["loaded"] == [str(DAY)]
    assert _lake_rows(b) == (25, 25, 25)
    a_turn = take_turn(a, NOW)  # a ships; the lease is free again: a loads the day with both hosts' files
    assert a_turn.errors == {} and a_turn.pipeline is not None and a_turn.pipeline["loaded"] == [str(DAY)]
    assert _lake_rows(a) == (55, 55, 55)
    manifest_files = sorted((a.data_dir / "lake" / "_etl").glob("recv=*.json"))
    assert len(manifest_files) == 1 and "host-b" in manifest_files[0].read_text()

    # c has shipped nothing yet and has no lake: its turn pulls a's lake, then c ships its files and
    # the next turn loads the day again with them
    _events(c, range(100, 110))
    c_turn = take_turn(c, NOW)
    assert c_turn.errors == {}, c_turn
    assert c_turn.pipeline is not None and c_turn.pipeline["pulled"]["downloaded"] > 0
    assert _lake_rows(c) == (65, 65, 65)
    b_again = take_turn(b, NOW)  # nothing pending: b pulls c's lake under the lease and pushes nothing new
    assert b_again.pipeline is not None and b_again.pipeline["loaded"] == []
    assert _lake_rows(b) == (65, 65, 65)
    trees = [
        {f: (h.data_dir / "lake" / f).read_bytes() for f in local_files(h.data_dir / "lake")}
        for h in (a, b, c)
    ]
    a_turn2 = take_turn(a, NOW)
    assert a_turn2.pipeline is not None and a_turn2.pipeline["pulled"]["downloaded"] > 0
    assert trees[1] == trees[2]
    with LeaseStore(pg_url) as leases:
        hosts = sorted(x.job for x in leases.list() if x.job.startswith("host/"))
        assert hosts == ["host/host-a", "host/host-b", "host/host-c"]
        assert not [x for x in leases.list() if x.job == PIPELINE and x.held]  # released after each turn


def test_a_host_that_holds_the_lease_keeps_the_others_out_until_it_expires(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str
) -> None:
    bucket = gcs.new_bucket(monkeypatch)
    a, b = (_host(tmp_path, n, bucket, pg_url) for n in ("host-a", "host-b"))
    _events(a, range(0, 10))
    _events(b, range(10, 20))
    assert take_turn(a, NOW).pipeline is not None  # a's lake: its own events
    # a dies in the middle of its next run: it took the lease and never renews nor releases it
    with LeaseStore(pg_url) as leases:
        dead = leases.acquire(PIPELINE, "host-a@dead:1", 1.0)
        assert dead is not None
        held = take_turn(b, NOW)  # b ships, finds the lease held and only pulls
        assert held.pipeline is None and held.pipeline_holder == "host-a@dead:1"
        assert held.pulled is not None and _lake_rows(b) == (10, 10, 10)
        import time

        time.sleep(1.2)  # the lease expires
        taken = take_turn(b, NOW)
        assert taken.pipeline is not None and taken.pipeline["loaded"] == [str(DAY)], taken
        assert _lake_rows(b) == (20, 20, 20)
        assert [x.generation for x in leases.list() if x.job == PIPELINE] == [dead.generation + 1]


def test_a_deletion_changes_the_lake_every_host_pulls(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str
) -> None:
    from headwater.cluster.pipeline import change_lake
    from headwater.lake.erase import erase_from_lake
    from headwater.lake.layout import Lake

    bucket = gcs.new_bucket(monkeypatch)
    a, b = (_host(tmp_path, n, bucket, pg_url) for n in ("host-a", "host-b"))
    _events(a, range(0, 10))
    _events(b, range(10, 20))
    take_turn(a, NOW)
    take_turn(b, NOW)  # b loads both hosts' files and pushes
    take_turn(a, NOW)  # a pulls
    assert _lake_rows(a) == (20, 20, 20)
    # a deletion filed on host a erases the lake under the lease, from the last lake pushed
    change_lake(a, lambda: erase_from_lake(Lake(a.data_dir / "lake"), {"u3", "u15"}))
    assert _lake_rows(a) == (18, 18, 18)
    take_turn(b, NOW)  # b pulls the erased lake: nothing of them is left on b either
    assert _lake_rows(b) == (18, 18, 18)
    # while another host holds the lease, the change waits, then fails without touching the lake
    with LeaseStore(pg_url) as leases:
        assert leases.acquire(PIPELINE, "host-b@busy:1", 30) is not None
        with pytest.raises(TimeoutError, match="cluster status"):
            change_lake(a, lambda: pytest.fail("ran without the lease"), wait_s=0.3, poll_s=0.1)


def test_retention_applies_to_the_cluster_lake_and_every_hosts_quarantine(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str
) -> None:
    bucket = gcs.new_bucket(monkeypatch)
    kw: dict[str, object] = {"quarantine_retention_days": 30, "event_retention_days": {"Clicked": 30}}
    a, b = (_host(tmp_path, n, bucket, pg_url).model_copy(update=kw) for n in ("host-a", "host-b"))
    _events(a, range(0, 10))
    # b received, on the same day, events that happened long before: the retention of "Clicked" drops them
    old = [ev("2026-10-01T10:00:00Z", user=f"old{i}", received=f"{DAY}T11:00:00Z") for i in range(3)]
    write_log(b.data_dir, old, writer="host-b")
    for host in (a, b):
        q = host.log_dir / f"quarantine-20261001.{host.writer_id}.jsonl"
        q.write_text('{"reason": "bad"}\n')
    first = take_turn(a, NOW)  # a holds the lease: loads its own day, applies the lake's retention
    assert first.pipeline is not None and first.errors == {}, first
    second = take_turn(b, NOW)  # b holds it next: loads the day with its files; retention drops its old rows
    assert second.pipeline is not None and second.pipeline["retention"].get("event_rows") == {"Clicked": 3}
    (a.log_dir / "quarantine-20261001.host-a.jsonl").write_text('{"reason": "bad again"}\n')
    with LeaseStore(pg_url) as leases:  # another host holds the lease: a only pulls, and prunes its own
        assert leases.acquire(PIPELINE, "host-c@busy:1", 30) is not None
        third = take_turn(a, NOW)
    assert third.pipeline is None and third.pulled is not None
    assert _lake_rows(a) == _lake_rows(b) == (10, 10, 10)
    for host in (a, b):  # each host's quarantine, whichever held the lease
        assert not list(host.log_dir.glob("quarantine-20261001.*")), host.writer_id


def test_a_day_is_not_loaded_again_without_every_file_it_was_loaded_from(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str
) -> None:
    from headwater.cluster.logs import pending_days
    from headwater.shipping.manifest import Manifest
    from headwater.stores.objects import open_object_store

    bucket = gcs.new_bucket(monkeypatch)
    a = _host(tmp_path, "host-a", bucket, pg_url)
    _events(a, range(0, 10))
    take_turn(a, NOW)
    assert _lake_rows(a) == (10, 10, 10)
    store = open_object_store(bucket)
    try:
        entries = list(Manifest(store, a).load().entries.values())
        assert pending_days(a, entries, NOW.date()) == []
        # a file of that day appears (another host shipped late) while a's own copy is gone everywhere
        (a.log_dir / f"events-{DAY:%Y%m%d}.host-a.jsonl").unlink()
        late = [e for e in entries if e.name.endswith("host-a.jsonl")]
        assert late, entries
        later = [e for e in entries if e not in late]
        write_log(a.data_dir, [ev(f"{DAY}T12:00:00Z", user="late")], writer="host-z")
        assert pending_days(a, later, NOW.date()) == []  # loading it again would drop host-a's rows
        assert pending_days(a, entries, NOW.date()) == [DAY]  # with every file: loaded again
    finally:
        store.close()
