"""Raw-log retention never deletes a day the warehouse has not got yet."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from headwater.batch.archive import apply_retention, archive_month
from headwater.batch.etl import run_daily
from headwater.batch.scheduler import not_exported
from headwater.config import Settings
from headwater.stores.sql.warehouse_ledger import WarehouseLedger
from headwater.warehouse.hours import hour_text
from tests.batch.logdata import ev, write_log


def test_retention_keeps_days_not_exported_to_the_warehouse(tmp_path: Path) -> None:
    days = write_log(
        tmp_path, [ev("2026-03-30T10:00:00.000Z", user="u1"), ev("2026-03-31T10:00:00.000Z", user="u2")]
    )
    for d in days:
        run_daily(tmp_path, d, "UTC")
    archive_month(tmp_path, 2026, 3)
    settings = Settings(data_dir=tmp_path, warehouse_url="bigquery://p/d", raw_retention_days=1)
    ledger = WarehouseLedger(settings.effective_database_url)
    start = datetime(2026, 3, 30, tzinfo=UTC)
    for h in range(24):  # 03-30 fully exported; 03-31 only up to 22:00
        ledger.begin("events", hour_text(start + timedelta(hours=h)), None, None)
        ledger.done("events", hour_text(start + timedelta(hours=h)), 0, 0)
    for h in range(23):
        ledger.begin("events", hour_text(start + timedelta(days=1, hours=h)), None, None)
        ledger.done("events", hour_text(start + timedelta(days=1, hours=h)), 0, 0)
    ledger.close()
    needed = not_exported(settings)
    assert needed is not None
    deleted = apply_retention(tmp_path, 1, date(2026, 4, 10), needed)
    assert deleted == ["events-20260330.t.jsonl"]
    assert needed("decisions", date(2026, 3, 30))  # no decision hour exported yet
    # without a warehouse nothing holds the day back
    assert not_exported(Settings(data_dir=tmp_path, raw_retention_days=1)) is None
    assert apply_retention(tmp_path, 1, date(2026, 4, 10)) == ["events-20260331.t.jsonl"]


def test_retention_deletes_decision_files_loaded_and_exported(tmp_path: Path) -> None:
    log = tmp_path / "log"
    write_log(tmp_path, [ev("2026-03-30T10:00:00.000Z", user="u1")])
    line = (
        '{"id":"r1:w:1","request_id":"r1","timestamp":"2026-03-30T10:00:00.000000Z","user_found":true,'
        '"segments":"","segment_count":0,"consent":"allowed","reason":"no_segments","latency_us":5,"writer":"w"}\n'
    )
    (log / "decisions-20260330.w.jsonl").write_text(line)
    run_daily(tmp_path, date(2026, 3, 30), "UTC")
    archive_month(tmp_path, 2026, 3)
    settings = Settings(data_dir=tmp_path, warehouse_url="bigquery://p/d", raw_retention_days=1)
    ledger = WarehouseLedger(settings.effective_database_url)
    start = datetime(2026, 3, 30, tzinfo=UTC)
    for h in range(24):  # the events exported, the decisions not yet
        ledger.begin("events", hour_text(start + timedelta(hours=h)), None, None)
        ledger.done("events", hour_text(start + timedelta(hours=h)), 0, 0)
    needed = not_exported(settings)
    assert needed is not None
    assert apply_retention(tmp_path, 1, date(2026, 4, 10), needed) == ["events-20260330.t.jsonl"]
    assert (log / "decisions-20260330.w.jsonl").exists()
    for h in range(24):
        ledger.begin("decisions", hour_text(start + timedelta(hours=h)), None, None)
        ledger.done("decisions", hour_text(start + timedelta(hours=h)), 0, 0)
    ledger.close()
    needed = not_exported(settings)
    assert needed is not None
    assert apply_retention(tmp_path, 1, date(2026, 4, 10), needed) == ["decisions-20260330.w.jsonl"]
