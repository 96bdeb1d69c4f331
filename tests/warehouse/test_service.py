"""The server exports by itself, backs off when the warehouse is away, and says so on /readyz and
/metrics (details for the admin only)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from headwater.config import Settings
from headwater.stores.warehouse import open_warehouse
from headwater.warehouse.export import Exporter
from headwater.warehouse.service import WarehouseExporter, backoff
from tests.batch.logdata import ev, write_log
from tests.helpers import Server, free_port

TOKEN = "warehouse-test-admin-token"


def recent_events(data_dir: Path, n: int = 12) -> None:
    """Events received two hours ago (a closed hour)."""
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    stamps = [(base + timedelta(minutes=3 * i)).strftime("%Y-%m-%dT%H:%M:%S.000Z") for i in range(n)]
    write_log(data_dir, [ev(t, user=f"u{i % 3}") for i, t in enumerate(stamps)])


def test_backoff_doubles_to_fifteen_minutes() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [30, 60, 120, 240, 480, 900, 900]


def test_the_service_backs_off_says_it_once_and_catches_up(
    tmp_path: Path, warehouse_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    recent_events(tmp_path)
    down = f"bigquery://p/d?endpoint=http://127.0.0.1:{free_port()}"
    service = WarehouseExporter(Settings(data_dir=tmp_path, warehouse_url=down))
    assert service.active
    assert service.run_once() == 30 and service.run_once() == 60
    ok, details = service.status()
    assert (
        ok
        and details["state"] == "unreachable"
        and details["hours_due"] >= 1
        and details["lag_seconds"] > 3600
    )
    # a missing dataset: one error line, however many retries
    missing = WarehouseExporter(Settings(data_dir=tmp_path, warehouse_url=warehouse_url))
    with caplog.at_level(logging.ERROR, logger="headwater.warehouse"):
        assert missing.run_once() == 300 and missing.run_once() == 300
    said = [r for r in caplog.records if "paused" in r.getMessage()]
    assert len(said) == 1 and "headwater warehouse init" in said[0].getMessage()
    # the dataset made, the export catches up
    Exporter(Settings(data_dir=tmp_path, warehouse_url=warehouse_url), open_warehouse(warehouse_url)).init()
    assert missing.run_once() > 60
    ok, details = missing.status()
    assert details["state"] == "ok" and details["rows_exported"] == 12 and details["lag_seconds"] == 0
    # a process that does not run the schedules reports what the exporter wrote
    passive = WarehouseExporter(Settings(data_dir=tmp_path, warehouse_url=warehouse_url, role="http"))
    assert not passive.active and passive.status()[1]["rows_exported"] == 12


def test_a_running_server_exports_and_reports_on_readyz_and_metrics(
    tmp_path: Path, warehouse_url: str
) -> None:
    data_dir = tmp_path / "data"
    recent_events(data_dir)
    Exporter(Settings(data_dir=data_dir, warehouse_url=warehouse_url), open_warehouse(warehouse_url)).init()
    env = {"HEADWATER_WAREHOUSE_URL": warehouse_url, "HEADWATER_ADMIN_TOKEN": TOKEN}
    with Server(data_dir, env=env) as srv:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            body = httpx.get(f"{srv.url}/readyz", headers={"Authorization": f"Bearer {TOKEN}"}).json()
            if body["checks"]["warehouse"].get("rows_exported"):
                break
            time.sleep(0.5)
        assert body["checks"]["warehouse"]["state"] == "ok", body
        assert body["checks"]["warehouse"]["rows_exported"] == 12
        assert "last_error" in body["checks"]["warehouse"]
        assert httpx.get(f"{srv.url}/readyz").json() == {"status": "ready"}  # the details: admin only
        metrics = srv.metrics()
        assert "headwater_warehouse_rows_exported_total 12.0" in metrics
        assert "headwater_warehouse_lag_seconds 0.0" in metrics
