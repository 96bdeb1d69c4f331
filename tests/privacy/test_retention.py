"""Retention policies (issue 17): the lake's months, the quarantine's days and per-event days,
applied by the scheduler's pass, visible in `headwater config`, each deletion in the audit file."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest
from pydantic import ValidationError

from headwater.batch.archive import apply_retention, archive_month
from headwater.batch.etl import run_daily
from headwater.config import Settings
from headwater.lake.layout import Lake
from headwater.privacy.retention import apply_privacy_retention, months_back
from tests.batch.logdata import ev, write_log
from tests.helpers import cli

TODAY = date(2026, 6, 15)


def lake_rows(data: Path, where: str = "true") -> int:
    files = [p for p in (data / "lake").rglob("*.parquet") if "events" in p.parts or "archive" in p.parts]
    return parquet_rows(files, where)


def parquet_rows(files: list[Path], where: str = "true") -> int:
    """The rows of these Parquet files that ``where`` keeps (0 for no file), read through DuckDB."""
    if not files:
        return 0
    listed = [str(p) for p in files]
    con = duckdb.connect()
    try:
        got = con.execute(
            f"SELECT count(*) FROM read_parquet({listed!r}, union_by_name = true, hive_partitioning = false)"
            f" WHERE {where}"
        ).fetchone()
    finally:
        con.close()
    return int(got[0]) if got else 0


def build(data: Path) -> None:
    """Events of February (archived), April and June; a quarantine file per month."""
    events = []
    for day in (date(2026, 2, 10), date(2026, 4, 10), date(2026, 6, 1), date(2026, 6, 12)):
        stamp = f"{day:%Y-%m-%d}T10:00:00.000Z"
        events += [
            ev(stamp, user="u1", event="Opened"),
            ev(stamp, user="u2", event="Page Viewed", type="track"),
        ]
    for day in write_log(data, events):
        run_daily(data, day, "UTC")
    archive_month(data, 2026, 2)
    for day in (date(2026, 2, 10), date(2026, 6, 12)):
        path = data / "log" / f"quarantine-{day:%Y%m%d}.t.jsonl"
        path.write_text('{"reason": "bad", "code": "x"}\n')


def test_months_back() -> None:
    assert months_back(date(2026, 6, 15), 3) == date(2026, 3, 1)
    assert months_back(date(2026, 1, 31), 1) == date(2025, 12, 1)
    assert months_back(date(2026, 1, 31), 13) == date(2024, 12, 1)


def test_retention_policies(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build(data)
    assert lake_rows(data) == 8
    nothing = Settings(data_dir=data)
    assert apply_privacy_retention(nothing, TODAY) == {}  # none set: everything kept
    assert lake_rows(data) == 8
    settings = Settings(
        data_dir=data,
        lake_retention_months=3,  # keeps March 2026 on: February goes
        quarantine_retention_days=30,
        event_retention_days={"Page Viewed": 7},
    )
    report = apply_privacy_retention(settings, TODAY)
    assert report["quarantine_files"] == ["quarantine-20260210.t.jsonl"]
    assert any("archive/month=2026-02" in f for f in report["lake_files"]), report
    # Page Viewed older than 7 days (April 10, June 1) removed; June 12's kept; February's went whole
    assert report["event_rows"] == {"Page Viewed": 2}
    assert lake_rows(data) == 4
    assert lake_rows(data, "event = 'Page Viewed'") == 1
    assert lake_rows(data, "event = 'Opened'") == 3
    assert not list((data / "lake").rglob(".*.tmp"))
    assert (data / "log" / "quarantine-20260612.t.jsonl").exists()
    assert Lake(data / "lake").archived_months() == []
    audit = [json.loads(line) for line in (data / "audit" / "privacy.jsonl").read_text().splitlines()]
    assert audit[-1]["retention"] == report
    assert apply_privacy_retention(settings, TODAY) == {}  # a second pass removes nothing


def event_people(data: Path) -> list[tuple[str, str]]:
    """(event, day) of every row of the funnels' (event, person hash, time) rollup."""
    files = sorted(str(p) for p in (data / "lake" / "event_people").glob("*.parquet"))
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT event, strftime(ts AT TIME ZONE 'UTC', '%m-%d') FROM read_parquet({files!r})"
            " ORDER BY 1, 2"
        ).fetchall()
    finally:
        con.close()
    return [(str(e), str(d)) for e, d in rows]


def test_event_retention_reaches_the_event_people_rollup(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build(data)
    assert ("Page Viewed", "04-10") in event_people(data)
    settings = Settings(data_dir=data, event_retention_days={"Page Viewed": 7})
    report = apply_privacy_retention(settings, TODAY)
    assert report["event_rows"] == {"Page Viewed": 3}  # February's archived row too
    assert report["event_people_rows"] == {"Page Viewed": 3}
    opened = [("Opened", d) for d in ("02-10", "04-10", "06-01", "06-12")]
    assert event_people(data) == [*opened, ("Page Viewed", "06-12")]
    assert not list((data / "lake").rglob(".*.tmp"))
    audit = [json.loads(line) for line in (data / "audit" / "privacy.jsonl").read_text().splitlines()]
    assert audit[-1]["retention"] == report
    assert apply_privacy_retention(settings, TODAY) == {}


def test_raw_log_retention_is_audited(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build(data)  # February is archived: its raw log may go
    audit = data / "audit" / "privacy.jsonl"
    assert not audit.exists()
    assert apply_retention(data, None, TODAY) == []  # off: nothing removed, nothing written
    assert not audit.exists()
    deleted = apply_retention(data, 30, TODAY)
    assert deleted == ["events-20260210.t.jsonl"]
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [line["retention"] for line in lines] == [{"raw_log_files": deleted}]
    assert lines[0]["at"].startswith("20")
    assert apply_retention(data, 30, TODAY) == []  # nothing more to remove: no new line
    assert len(audit.read_text().splitlines()) == 1


def test_settings_are_checked_and_shown(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="whole number of days"):
        Settings(data_dir=tmp_path, event_retention_days={"Page Viewed": 0})
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, lake_retention_months=0)
    env = {"HEADWATER_LAKE_RETENTION_MONTHS": "25", "HEADWATER_EVENT_RETENTION_DAYS": '{"Page Viewed": 30}'}
    shown = json.loads(cli(tmp_path, "config", "--json", env=env).stdout)
    assert shown["lake_retention_months"] == 25
    assert shown["event_retention_days"] == {"Page Viewed": 30}
    assert shown["quarantine_retention_days"] is None


def test_older_events_are_the_same_rows_for_duckdb_and_arrow(tmp_path: Path) -> None:
    """A per-event retention rewrites a file by the library that wrote it (lake/erase_files.py):
    the rows cut from a pyarrow file (by the mask) are those DuckDB's condition picks."""
    from datetime import UTC, datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    from headwater.lake.erase_files import Kind, OlderEvents, rewrite, scan
    from headwater.lake.sql import connect

    at = [datetime(2026, 6, d, h, tzinfo=UTC) for d in (9, 10) for h in (0, 23)] + [None]
    names = ["Page Viewed", "Opened", None, "Page Viewed", "Page Viewed"]
    path = tmp_path / "rows.parquet"
    table = pa.table({"event": names, "ts": pa.array(at, pa.timestamp("us", tz="UTC")), "n": range(5)})
    pq.write_table(table, path, row_group_size=2)
    kind = Kind("event retention", [path], OlderEvents("Page Viewed", date(2026, 6, 10)))
    con = connect()
    try:
        assert scan(con, kind) == {path: 1}  # 06-09 00:00; not 06-10 23:00, not the NULL time
        rewrite(con, kind, path)
    finally:
        con.close()
    assert pq.read_table(path).column("n").to_pylist() == [1, 2, 3, 4]
    assert pq.read_metadata(path).num_row_groups == 3  # its row groups, one for one
