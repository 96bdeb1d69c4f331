"""The daily ETL loads the decision log into lake/decisions/date=YYYY-MM-DD.parquet (real DuckDB)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from headwater.batch.etl import days_to_load, run_daily
from headwater.decisions.record import COLUMNS
from headwater.decisions.writer import DecisionLog
from headwater.lake.layout import Lake
from tests.batch.logdata import ev, write_log
from tests.decisions.records import REFUSED, bid_request, consented, epoch_us, outcome_of, read_lines

D27, D28, D29 = date(2026, 3, 27), date(2026, 3, 28), date(2026, 3, 29)
REQUESTS = [
    consented("enriched"),
    bid_request("unknown", user="never-seen"),
    bid_request("no-segments", user="no-audience"),
    consented("refused", consent=REFUSED),
    bid_request("coppa", coppa=1, gdpr=0),
]


def write_decisions(data_dir: Path, writer: str, day: date, count: int) -> Path:
    """``count`` decisions of the real pipeline on ``day`` in ``writer``'s file, through the real log."""
    log = DecisionLog(data_dir / "log", writer)
    start = epoch_us(f"{day.isoformat()}T08:00:00")
    for n in range(count):
        request = {**REQUESTS[n % len(REQUESTS)]}
        request["id"] = f"{request['id']}-{writer}-{n}"
        log.note(outcome_of(request), 0.00003 + n / 1e6, at_us=start + n * 1_000_003)
    log.write_all()
    return log.path_for(day)


def complete_lines(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    return [json.loads(line) for line in data[: data.rfind(b"\n") + 1].splitlines()]


def lake_rows(data_dir: Path, day: date) -> list[dict[str, Any]]:
    path = Lake(data_dir / "lake").decisions_file(day)
    con = duckdb.connect()
    try:
        cursor = con.execute(f"SELECT * FROM read_parquet('{path}') ORDER BY id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def as_lines(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lake rows as the log wrote them (timestamp back to the log's text)."""
    out = []
    for row in rows:
        stamp = row["timestamp"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out.append({**row, "timestamp": stamp})
    return out


def test_a_closed_day_of_decisions_becomes_one_lake_file(tmp_path: Path) -> None:
    first = write_decisions(tmp_path, "w-0", D27, 12)
    second = write_decisions(tmp_path, "w-1", D27, 7)
    write_decisions(tmp_path, "w-0", D28, 3)
    with open(second, "ab") as fh:  # w-1 was killed in the middle of a write, never restarted
        fh.write(b'{"id":"torn-w-1-7:w-1:1","request_id":"torn-w-1-7","timest')
    expected = sorted(read_lines(first) + complete_lines(second), key=lambda r: r["id"])
    assert days_to_load(tmp_path, D29) == [D27, D28]

    result = run_daily(tmp_path, D27, "UTC")
    assert result.skipped and "decisions only" in result.skipped  # no event log that day: no error
    assert result.decisions is not None and result.decisions["rows"] == 19
    rows = lake_rows(tmp_path, D27)
    assert list(rows[0]) == list(COLUMNS)
    assert as_lines(rows) == expected  # every complete line, field for field; the torn one skipped
    enriched = next(r for r in rows if r["request_id"] == "enriched-w-0-0")
    assert enriched["timestamp"] == datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    assert (enriched["user_found"], enriched["segments"], enriched["segment_count"]) == (
        True,
        "782,hw-loyal",
        2,
    )
    assert (enriched["consent"], enriched["reason"], enriched["latency_us"]) == ("allowed", "enriched", 30)
    refused = next(r for r in rows if r["request_id"] == "refused-w-1-3")
    assert (refused["consent"], refused["reason"], refused["user_found"]) == (
        "denied",
        "gdpr_no_consent",
        False,
    )
    assert days_to_load(tmp_path, D29) == [D28]


def test_loading_again_rewrites_the_same_file_and_a_grown_day_is_loaded_again(tmp_path: Path) -> None:
    path = write_decisions(tmp_path, "w-0", D27, 5)
    run_daily(tmp_path, D27, "UTC")
    before = lake_rows(tmp_path, D27)
    again = run_daily(tmp_path, D27, "UTC")
    assert again.decisions is not None and again.decisions["rows"] == 5
    assert lake_rows(tmp_path, D27) == before
    assert days_to_load(tmp_path, D29) == []
    with open(path, "ab") as fh:  # a late flush (the worker writes up to a second after midnight)
        fh.write(path.read_bytes().splitlines(keepends=True)[0].replace(b"-w-0-0", b"-w-0-late"))
    assert days_to_load(tmp_path, D29) == [D27]
    run_daily(tmp_path, D27, "UTC")
    assert len(lake_rows(tmp_path, D27)) == 6 and days_to_load(tmp_path, D29) == []


def test_events_and_decisions_of_the_same_day(tmp_path: Path) -> None:
    write_log(
        tmp_path, [ev("2026-03-27T09:00:00.000Z", user="u1"), ev("2026-03-27T10:00:00.000Z", user="u2")]
    )
    write_decisions(tmp_path, "t", D27, 4)
    result = run_daily(tmp_path, D27, "UTC")
    assert result.skipped is None and result.rows_out == 2
    assert result.decisions is not None and result.decisions["rows"] == 4
    assert Lake(tmp_path / "lake").files_of_received_day(D27)
    assert days_to_load(tmp_path, D29) == []


def test_a_file_holding_only_a_torn_line_loads_as_no_rows(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    (log_dir / "decisions-20260327.w-9.jsonl").write_bytes(b'{"id":"r:w-9:1","request_')
    result = run_daily(tmp_path, D27, "UTC")
    assert result.decisions is not None and result.decisions["rows"] == 0
    assert lake_rows(tmp_path, D27) == []


def test_today_is_not_loaded_by_the_schedule(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    write_decisions(tmp_path, "w-0", today, 2)
    assert days_to_load(tmp_path, today) == []
