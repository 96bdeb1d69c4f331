"""Daily ETL on real files with the real DuckDB: partitions by event date, exact dedup, idempotence."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from headwater.batch import etl
from headwater.batch.etl import days_to_load, run_daily
from headwater.lake.layout import Lake, LakeError
from tests.batch.logdata import ev, write_log
from tests.metrics.dataset import PARIS, active_events

D27, D28, D29, D30 = (date(2026, 3, d) for d in (27, 28, 29, 30))


@pytest.fixture(autouse=True, params=["in memory", "in a file"])
def table_place(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test loads days both ways: the day's table in memory (a day smaller than DuckDB's
    memory limit) and in a DuckDB file (a bigger day)."""
    monkeypatch.setattr(etl, "TABLE_IN_FILE_ABOVE", None if request.param == "in memory" else 0)
    return str(request.param)


def test_a_day_loaded_into_a_file_writes_the_same_lake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_log(tmp_path / "source", active_events())  # one log (the message ids are made here)
    lakes = {}
    for place, above in (("memory", None), ("file", 0)):
        monkeypatch.setattr(etl, "TABLE_IN_FILE_ABOVE", above)
        data = tmp_path / place
        shutil.copytree(tmp_path / "source" / "log", data / "log")
        for day in (D27, D28, D29, D30):
            run_daily(data, day, PARIS)
        root = data / "lake"
        lakes[place] = {
            str(f.relative_to(root)): sorted(
                map(repr, duckdb.sql(f"SELECT * FROM read_parquet('{f}')").fetchall())
            )
            for f in root.rglob("*.parquet")
            if ".tmp" not in f.parts
        }
    assert lakes["file"] == lakes["memory"]
    assert any(name.startswith("events/") for name in lakes["file"]) and len(lakes["file"]) > 10


def lake_rows(data: Path) -> list[tuple[object, ...]]:
    files = sorted(str(p) for p in (data / "lake" / "events").glob("date=*/*.parquet"))
    return duckdb.sql(f"SELECT message_id, ts FROM read_parquet({files}) ORDER BY message_id").fetchall()


def test_partitions_dedup_and_idempotence(tmp_path: Path) -> None:
    events = active_events()  # 13 lines, one of them a retry of "dup-1" received a day later
    write_log(tmp_path, events)
    results = [run_daily(tmp_path, d, PARIS) for d in (D27, D28, D29, D30)]
    assert [r.rows_in for r in results] == [6, 2, 4, 1]
    assert [r.duplicates for r in results] == [0, 0, 1, 0]  # dup-1 is already in 03-28's file
    rows = lake_rows(tmp_path)
    assert len(rows) == 12 and len({r[0] for r in rows}) == 12
    # the late event of 03-27 received on 03-29 is stored under its event date
    lake = Lake(tmp_path / "lake")
    assert [p.parent.name for p in lake.files_of_received_day(D29)] == ["date=2026-03-27", "date=2026-03-29"]
    # re-running any day, in any order, replaces its own files: still 12 rows
    for d in (D29, D28, D27, D29):
        run_daily(tmp_path, d, PARIS)
    assert lake_rows(tmp_path) == rows
    assert days_to_load(tmp_path, date(2026, 4, 1)) == []


def test_out_of_order_loads_keep_one_copy(tmp_path: Path) -> None:
    write_log(tmp_path, active_events())
    first = run_daily(tmp_path, D29, PARIS)  # holds the retry of dup-1: kept
    second = run_daily(tmp_path, D28, PARIS)  # the original: now a duplicate
    assert (first.duplicates, second.duplicates) == (0, 1)
    ids = [r[0] for r in lake_rows(tmp_path)]
    assert ids.count("dup-1") == 1


def test_typed_columns_and_tool_usage(tmp_path: Path) -> None:
    write_log(
        tmp_path,
        [
            ev("2026-01-05T10:00:00.000Z", user="u1", tool="editor", props={"n": 1}, mid="a"),
            ev("2026-01-05T11:00:00.000Z", user="u2", tool="editor", mid="b"),
            ev("2026-01-05T12:00:00.000Z", user="u2", tool="editor", mid="b"),  # duplicate
            ev("2026-01-05T12:30:00.000Z", user="u2", event="Exported", tool="export", mid="c"),
        ],
    )
    result = run_daily(tmp_path, date(2026, 1, 5), "UTC")
    assert (result.rows_in, result.rows_out, result.duplicates) == (4, 3, 1)
    f = str(tmp_path / "lake/events/date=2026-01-05/recv-20260105.parquet")
    types = dict(
        duckdb.sql(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{f}')").fetchall()
    )
    assert types["ts"] == "TIMESTAMP WITH TIME ZONE" and types["tool_id"] == "VARCHAR"
    assert duckdb.sql(f"SELECT properties->>'n' FROM '{f}' WHERE message_id = 'a'").fetchall() == [("1",)]
    stats = str(tmp_path / "lake/tool_usage_stats/date=2026-01-05.parquet")
    got = duckdb.sql(f"SELECT tool_id, event_type, count, users FROM '{stats}' ORDER BY 1").fetchall()
    assert got == [("editor", "Clicked", 2, 2), ("export", "Exported", 1, 1)]


def test_missing_log_day_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="no event log files were received on 2026-02-01"):
        run_daily(tmp_path, date(2026, 2, 1), "UTC")


def test_partial_last_line_is_left_for_later(tmp_path: Path) -> None:
    write_log(tmp_path, [ev("2026-01-05T10:00:00.000Z", user="u1")])
    log = tmp_path / "log" / "events-20260105.t.jsonl"
    with open(log, "a") as fh:
        fh.write('{"type":"track","messageId":"half')  # a line still being written
    assert run_daily(tmp_path, date(2026, 1, 5), "UTC").rows_out == 1
    # the manifest saw the partial size: once the line grows, the day is due again
    with open(log, "a") as fh:
        fh.write('"}\n')
    assert days_to_load(tmp_path, date(2026, 1, 6)) == [date(2026, 1, 5)]


def test_partly_loaded_day_is_read_on_from_where_the_load_stopped(tmp_path: Path) -> None:
    from headwater.metrics.registry import run_metric

    day = date(2026, 1, 5)
    write_log(
        tmp_path,
        [ev("2026-01-05T10:00:00.000Z", user="u1", mid="x1"), ev("2026-01-05T10:01:00.000Z", user="u2")],
    )
    run_daily(tmp_path, day, "UTC")  # e.g. an intraday `etl daily --date today`
    # more traffic after the load, including a retry of x1
    write_log(
        tmp_path,
        [ev("2026-01-05T11:00:00.000Z", user="u3"), ev("2026-01-05T10:00:00.000Z", user="u1", mid="x1")],
    )
    out = run_metric(tmp_path, "UTC", "features", "2026-01-05", "2026-01-05")
    assert [(r["events"], r["users"]) for r in out["rows"]] == [(3, 3)]
    assert days_to_load(tmp_path, date(2026, 1, 6)) == [day]
    assert run_daily(tmp_path, day, "UTC").rows_out == 3


def test_late_events_of_a_big_day_land_in_their_dates(tmp_path: Path) -> None:
    """Most rows on one date (written by a COPY of its own), a few late ones on two other dates (written
    together by the partitioned COPY), one duplicate: every row once, under its event date."""
    events = [
        ev(f"2026-01-05T10:{m:02d}:00.000Z", user=f"u{m}", received="2026-01-05T12:00:00.000Z")
        for m in range(40)
    ]
    events.append(ev("2026-01-02T09:00:00.000Z", user="late1", mid="l1", received="2026-01-05T12:00:00.000Z"))
    events.append(ev("2026-01-03T09:00:00.000Z", user="late2", mid="l2", received="2026-01-05T12:00:00.000Z"))
    events.append(ev("2026-01-03T09:00:00.000Z", user="late2", mid="l2", received="2026-01-05T13:00:00.000Z"))
    write_log(tmp_path, events)
    result = run_daily(tmp_path, date(2026, 1, 5), "UTC")
    assert (result.rows_in, result.rows_out, result.duplicates) == (43, 42, 1)
    assert result.event_dates == ["2026-01-02", "2026-01-03", "2026-01-05"]
    lake = Lake(tmp_path / "lake")
    files = lake.files_of_received_day(date(2026, 1, 5))
    assert [p.parent.name for p in files] == ["date=2026-01-02", "date=2026-01-03", "date=2026-01-05"]
    per_file = [duckdb.sql(f"SELECT count(*), min(recv_day) FROM '{p}'").fetchall()[0] for p in files]
    assert per_file == [(1, date(2026, 1, 5)), (1, date(2026, 1, 5)), (40, date(2026, 1, 5))]
    assert len(lake_rows(tmp_path)) == 42


def test_tool_usage_of_many_dates_in_one_run(tmp_path: Path) -> None:
    # one received day carrying events of three dates (late ones), an identify merging a2 into u3,
    # and a later received day adding to 01-06: each date's stats count over the whole lake
    events = [
        ev("2026-01-04T10:00:00.000Z", user="u1", tool="editor", received="2026-01-06T01:00:00.000Z"),
        ev("2026-01-05T10:00:00.000Z", user="u1", tool="editor", received="2026-01-06T01:00:00.000Z"),
        ev("2026-01-05T11:00:00.000Z", anon="a2", tool="editor", received="2026-01-06T01:00:00.000Z"),
        ev("2026-01-05T12:00:00.000Z", user="u3", tool="editor", received="2026-01-06T01:00:00.000Z"),
        ev("2026-01-06T09:00:00.000Z", user="u3", anon="a2", type="identify"),
        ev("2026-01-06T10:00:00.000Z", user="u1", event="Exported", tool="export"),
        ev("2026-01-06T23:59:00.000Z", user="u4", tool="editor", received="2026-01-07T00:01:00.000Z"),
    ]
    write_log(tmp_path, events)
    run_daily(tmp_path, date(2026, 1, 6), "UTC")
    run_daily(tmp_path, date(2026, 1, 7), "UTC")

    def stats(day: str) -> list[tuple[object, ...]]:
        f = str(tmp_path / f"lake/tool_usage_stats/date={day}.parquet")
        return duckdb.sql(
            f"SELECT date::VARCHAR, tool_id, event_type, count, users FROM '{f}' ORDER BY 2, 3"
        ).fetchall()

    assert stats("2026-01-04") == [("2026-01-04", "editor", "Clicked", 1, 1)]
    assert stats("2026-01-05") == [("2026-01-05", "editor", "Clicked", 3, 2)]  # a2 is u3
    assert stats("2026-01-06") == [
        ("2026-01-06", "editor", "Clicked", 1, 1),
        ("2026-01-06", "export", "Exported", 1, 1),
        ("2026-01-06", None, "identify", 1, 1),
    ]
