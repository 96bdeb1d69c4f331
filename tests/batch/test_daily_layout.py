"""The lake's event files' layout: the daily files (batch/etl.py) sorted by actor then time, in row
groups of DAILY_ROW_GROUP rows, so that one person's events of a date sit in one or two row groups;
a deletion's rewrite (lake/erase.py) and a per-event retention keep it; the monthly archives
(batch/archive.py) sorted by UTC day, then actor, then time."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from headwater.batch.archive import archive_month
from headwater.batch.etl import DAILY_ROW_GROUP, run_daily
from headwater.config import Settings
from headwater.lake.erase import erase_from_lake
from headwater.lake.layout import Lake
from headwater.privacy.retention import apply_privacy_retention
from tests.batch.logdata import ev, write_log

PEOPLE = 400
EVENTS = 40_000


def _day(tmp_path: Path) -> Path:
    rng = random.Random(7)
    events = []
    for _ in range(EVENTS):  # in time order, people interleaved as a day's traffic is
        events.append((rng.randrange(86_400), rng.randrange(PEOPLE)))
    events.sort()
    log = []
    for n, (second, person) in enumerate(events):
        stamp = f"2026-03-02T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.{n % 1000:03d}Z"
        name = "Page Viewed" if n % 10 == 0 else "Clicked"  # one in ten: for the retention test
        log.append(ev(stamp, user=f"u{person:04d}", event=name, props={"n": n}))
    day = write_log(tmp_path, log)[0]
    run_daily(tmp_path, day, "UTC")
    (path,) = Lake(tmp_path / "lake").event_files()
    return path


def _check_layout(path: Path, rows: int) -> None:
    meta = pq.read_metadata(path)
    assert meta.num_rows == rows
    assert meta.num_row_groups >= rows // DAILY_ROW_GROUP
    assert all(meta.row_group(i).num_rows <= DAILY_ROW_GROUP for i in range(meta.num_row_groups))
    table = pq.read_table(path, columns=["actor", "ts"]).to_pylist()
    keys = [(r["actor"], r["ts"]) for r in table]
    assert keys == sorted(keys)
    # each person's events in at most two row groups (~100 events each, groups of 16,384 rows)
    spans: dict[str, set[int]] = {}
    start = 0
    for i in range(meta.num_row_groups):
        size = meta.row_group(i).num_rows
        for actor, _ in keys[start : start + size]:
            spans.setdefault(actor, set()).add(i)
        start += size
    assert max(len(groups) for groups in spans.values()) <= 2


def test_a_days_file_is_sorted_by_actor_in_small_row_groups(tmp_path: Path) -> None:
    _check_layout(_day(tmp_path), EVENTS)


def test_a_deletion_keeps_the_layout(tmp_path: Path) -> None:
    path = _day(tmp_path)
    theirs = sum(1 for r in pq.read_table(path, columns=["actor"]).to_pylist() if r["actor"] == "u0007")
    assert theirs > 0
    erase_from_lake(Lake(tmp_path / "lake"), ["u0007"])
    _check_layout(path, EVENTS - theirs)


def test_a_per_event_retention_keeps_the_layout(tmp_path: Path) -> None:
    path = _day(tmp_path)
    settings = Settings(data_dir=tmp_path, event_retention_days={"Page Viewed": 7})
    report = apply_privacy_retention(settings, date(2026, 3, 20))
    assert report["event_rows"] == {"Page Viewed": EVENTS // 10}
    _check_layout(path, EVENTS - EVENTS // 10)


def test_an_archive_is_sorted_by_day_then_actor(tmp_path: Path) -> None:
    rng = random.Random(3)
    log = []
    for n in range(6_000):  # three days of 300 people, late events among them
        day, second, person = rng.randrange(2, 5), rng.randrange(86_400), rng.randrange(300)
        clock = f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.{n % 1000:03d}"
        stamp = f"2026-03-{day:02d}T{clock}Z"
        received = f"2026-03-{min(day + (n % 50 == 0), 4):02d}T23:59:00Z"
        log.append(ev(stamp, user=f"u{person:03d}", received=received))
    for day in write_log(tmp_path, log):
        run_daily(tmp_path, day, "UTC")
    archive_month(tmp_path, 2026, 3)
    (path,) = Lake(tmp_path / "lake").event_files()
    rows = pq.read_table(path, columns=["actor", "ts"]).to_pylist()
    assert len(rows) == 6_000
    keys = [(r["ts"].date(), r["actor"], r["ts"]) for r in rows]
    assert keys == sorted(keys)


def test_a_user_day_file_is_in_small_row_groups_a_deletion_keeps(tmp_path: Path) -> None:
    """The user-day rollup of a day with more people than a row group holds: sorted by day then
    actor, in row groups of user_days.ROW_GROUP rows (a timeline's read of one person skips the
    others); a deletion's rewrite keeps them."""
    from headwater.lake.rollups.user_days import ROW_GROUP

    people = 2 * ROW_GROUP + 500
    day = write_log(tmp_path, [ev("2026-03-02T10:00:00.000Z", user=f"p{n:05d}") for n in range(people)])[0]
    run_daily(tmp_path, day, "UTC")
    lake = Lake(tmp_path / "lake")
    path = lake.user_days_file(day)

    def check(rows: int) -> None:
        meta = pq.read_metadata(path)
        assert meta.num_rows == rows
        assert meta.num_row_groups == -(-rows // ROW_GROUP)
        table = pq.read_table(path, columns=["day", "actor"])
        keys = list(zip(table.column("day").to_pylist(), table.column("actor").to_pylist(), strict=True))
        assert keys == sorted(keys)
        first = pq.ParquetFile(path).metadata.row_group(1).column(1).statistics
        assert first.min > "p08000" and first.max < "p16500"  # a narrow range of actors

    check(people)
    erase_from_lake(lake, ["p00007"])
    check(people - 1)
    assert "p00007" not in pq.read_table(path, columns=["actor"]).column("actor").to_pylist()


def test_a_session_file_is_sorted_by_actor_in_row_groups_a_deletion_keeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session rollup's runs sorted by actor_hash then start, in row groups of
    SESSION_ROW_GROUP rows (a profile's read of one person skips the others); a deletion's rewrite
    keeps them."""
    import headwater.lake.rollups.sessions as sessions

    monkeypatch.setattr(sessions, "SESSION_ROW_GROUP", 100)
    path = _day(tmp_path).parents[2] / "sessions"
    (path,) = sorted(path.glob("recv=*.parquet"))

    def check() -> int:
        meta = pq.read_metadata(path)
        assert meta.num_row_groups == -(-meta.num_rows // 100) and meta.num_rows > 4 * PEOPLE
        table = pq.read_table(path, columns=["actor_hash", "start_ts"])
        keys = list(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))
        assert keys == sorted(keys)
        stats = meta.row_group(1).column(0).statistics
        assert stats.max - stats.min < 2**64 // 8  # a narrow range of actors, not the whole of it
        return meta.num_rows

    rows = check()
    erase_from_lake(Lake(tmp_path / "lake"), ["u0007"])
    assert check() < rows
