"""The server's daily run ships after the ETL, and raw-log retention never deletes a day not shipped."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from headwater.batch.archive import archive_month
from headwater.batch.etl import run_daily
from headwater.batch.scheduler import EtlScheduler
from headwater.config import Settings
from tests.batch.logdata import ev, write_log
from tests.object_stores import StoreServer, free_port


def test_retention_waits_for_shipping(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = gcs.new_bucket(monkeypatch)
    write_log(tmp_path, [ev("2026-01-05T10:00:00Z", user="a")])
    path = tmp_path / "log" / "events-20260105.t.jsonl"
    run_daily(tmp_path, date(2026, 1, 5), "UTC")
    archive_month(tmp_path, 2026, 1)
    settings = Settings(data_dir=tmp_path, object_store_url=url, raw_retention_days=1)
    scheduler = EtlScheduler(settings)

    monkeypatch.setattr("headwater.stores.objects.gcs.CALL_TIMEOUT", 1.0)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")
    assert scheduler.run_once() is False
    assert path.exists() and (scheduler.last_error or "").startswith("shipping: store:")

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.endpoint)
    assert scheduler.run_once() is True and scheduler.last_error is None
    assert not path.exists()
