"""The lake of a cluster gets each hour of today from every host shortly after it closes, not the
day after (docs/scale-out.md, "Hourly parts"): each host ships the lines of today's file hour by
hour, the pipeline's holder loads today over every host's shipped hours, and a host reads the rest
of its own log on top; once the day closes, its files are shipped whole and the day loaded whole.
Real PostgreSQL (leases) and a real GCS emulator; hosts are data directories taking their turns."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from headwater.cluster.turn import take_turn
from headwater.config import Settings
from headwater.lake.params import Range
from headwater.lake.scope import Scope
from headwater.stores.objects import open_object_store
from tests.batch.logdata import ev, write_log
from tests.cluster.test_pipeline import _host, _lake_rows
from tests.object_stores import StoreServer

DAY = date(2026, 12, 1)


def at(hour: int, minute: int, day: int = 1) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def _events(host: Settings, users: range, hour: int) -> None:
    rows = [ev(f"{DAY}T{hour:02d}:{i % 60:02d}:00Z", user=f"u{i}") for i in users]
    write_log(host.data_dir, rows, writer=host.writer_id)


def _seen_today(host: Settings) -> int:
    """Today's events as a metric query on the host reads them: the lake, and its own log on top."""
    with Scope(host.data_dir, Range(DAY, DAY, "UTC")) as scope:
        return int(scope.sql(f"SELECT count(*) FROM ({scope.events()})")[0][0])


def test_each_hour_of_today_reaches_the_lake_from_every_host(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str
) -> None:
    bucket = gcs.new_bucket(monkeypatch)
    a, b = (_host(tmp_path, n, bucket, pg_url) for n in ("host-a", "host-b"))
    _events(a, range(0, 20), 10)
    _events(b, range(20, 30), 10)

    # 11:06, hour 10 closed: a ships its part and loads today with what is shipped (its own)
    turn = take_turn(a, at(11, 6))
    assert turn.errors == {} and turn.pipeline is not None and turn.pipeline["loaded"] == [str(DAY)], turn
    assert _lake_rows(a) == (20, 20, 20)
    turn = take_turn(b, at(11, 7))  # b ships its part; today is loaded again with both hosts' hours
    assert turn.errors == {} and turn.pipeline is not None and turn.pipeline["loaded"] == [str(DAY)], turn
    assert _lake_rows(b) == (30, 30, 30)

    # hour 11 on a: not shipped before 12:05, read from a's own log on top of the lake meanwhile
    _events(a, range(30, 40), 11)
    turn = take_turn(a, at(11, 30))
    assert turn.errors == {} and turn.pipeline is not None and turn.pipeline["loaded"] == [], turn
    assert _lake_rows(a) == (30, 30, 30)  # b's lake, pulled
    assert _seen_today(a) == 40 and _seen_today(b) == 30
    turn = take_turn(a, at(12, 6))
    assert turn.pipeline is not None and turn.pipeline["loaded"] == [str(DAY)], turn
    assert _lake_rows(a) == (40, 40, 40) and _seen_today(a) == 40
    take_turn(b, at(12, 8))  # nothing new from b: it pulls a's lake
    assert _lake_rows(b) == (40, 40, 40) and _seen_today(b) == 40

    # the day closes: a ships its file whole (the bytes its parts held: nothing to load again),
    # then b ships its whole file with its hour 23: the day is loaded again; no part is left
    _events(b, range(40, 45), 23)
    turn = take_turn(a, at(0, 6, day=2))
    assert turn.errors == {} and turn.pipeline is not None and turn.pipeline["loaded"] == [], turn
    assert _lake_rows(a) == (40, 40, 40)
    turn = take_turn(b, at(0, 7, day=2))
    assert turn.errors == {} and turn.pipeline is not None and turn.pipeline["loaded"] == [str(DAY)], turn
    assert _lake_rows(b) == (45, 45, 45)
    store = open_object_store(bucket)
    names = [o.key.rsplit("/", 1)[-1] for o in store.list("log/events/")]
    store.close()
    assert sorted(names) == ["events-20261201.host-a.jsonl", "events-20261201.host-b.jsonl"]
    turn = take_turn(a, at(0, 20, day=2))
    assert turn.pipeline is not None and turn.pipeline["loaded"] == [] and _lake_rows(a) == (45, 45, 45)


def test_todays_stage_takes_this_hosts_file_as_it_is_now(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str
) -> None:
    """Today's stage is kept between loads (the other hosts' parts are not fetched again), but this
    host's own file is copied again each time: a line a deletion blanked since must not come back."""
    from headwater.cluster.logs import stage_day
    from headwater.shipping.manifest import Manifest
    from headwater.shipping.service import ship
    from headwater.stores.objects import open_object_store

    a = _host(tmp_path, "host-a", gcs.new_bucket(monkeypatch), pg_url)
    _events(a, range(0, 5), 10)
    assert ship(a, at(11, 6)).errors == {}
    own = a.data_dir / "log" / "events-20261201.host-a.jsonl"
    store = open_object_store(a.object_store_url or "")
    try:
        entries = list(Manifest(store, a).load().entries.values())
        staged = stage_day(a, store, entries, DAY, DAY) / own.name
        assert staged.read_bytes() == own.read_bytes()
        blanked = bytearray(own.read_bytes())
        first = blanked.index(b"\n")
        blanked[:first] = b" " * first  # a deletion's log step: the line blanked in place, same size
        own.write_bytes(bytes(blanked))
        staged = stage_day(a, store, entries, DAY, DAY) / own.name
        assert staged.read_bytes() == bytes(blanked)
    finally:
        store.close()
