"""Raw-log retention never deletes a day the warehouse has not got yet."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from headwater.batch.archive import apply_retention, archive_month
from headwater.batch.etl import run_daily
from headwater.batch.scheduler import EtlScheduler
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
    needed = EtlScheduler(settings)._not_exported()
    assert needed is not None
    deleted = apply_retention(tmp_path, 1, date(2026, 4, 10), needed)
    assert deleted == ["events-20260330.t.jsonl"]
    # without a warehouse nothing holds the day back
    assert EtlScheduler(Settings(data_dir=tmp_path, raw_retention_days=1))._not_exported() is None
    assert apply_retention(tmp_path, 1, date(2026, 4, 10)) == ["events-20260331.t.jsonl"]
