"""The export's faults: a missing dataset, an unreachable warehouse, a job that fails, kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from headwater.config import Settings
from headwater.stores.sql.warehouse_ledger import WarehouseLedger
from headwater.stores.warehouse import open_warehouse
from headwater.stores.warehouse.ports import (
    Column,
    JobFailedError,
    TableSpec,
    WarehouseMissingError,
    WarehouseUnreachableError,
)
from headwater.warehouse.export import Exporter
from tests.batch.logdata import ev, write_log
from tests.bq_services import BqEmulator
from tests.helpers import cli, free_port

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> str:
    return datetime(2026, 11, 20, hour, minute, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def sample(data_dir: Path) -> None:
    write_log(
        data_dir, [ev(at(h, i), user=f"u{i % 4}", mid=f"m{h}-{i}") for h in (8, 9, 10) for i in range(20)]
    )


def count(url: str, table: str = "events") -> int:
    wh = open_warehouse(url)
    try:
        return int(wh.query(f"SELECT count(*) AS n FROM {wh.table(table)}").rows[0]["n"])
    finally:
        wh.close()


def test_a_missing_dataset_is_one_clear_error(tmp_path: Path, warehouse_url: str) -> None:
    sample(tmp_path)
    wh = open_warehouse(warehouse_url)
    exporter = Exporter(Settings(data_dir=tmp_path, warehouse_url=warehouse_url), wh)
    with pytest.raises(WarehouseMissingError, match="headwater warehouse init"):
        exporter.sync(now=NOW)
    exporter.close()
    out = cli(tmp_path, "warehouse", "sync", env={"HEADWATER_WAREHOUSE_URL": warehouse_url}, check=False)
    assert out.returncode == 1
    assert "not found" in out.stderr and "headwater warehouse init" in out.stderr
    assert "Traceback" not in out.stderr
    # init creates it, then the same sync loads everything
    assert cli(tmp_path, "warehouse", "init", env={"HEADWATER_WAREHOUSE_URL": warehouse_url}).returncode == 0
    out = cli(tmp_path, "warehouse", "sync", "--json", env={"HEADWATER_WAREHOUSE_URL": warehouse_url})
    assert '"rows": 60' in out.stdout
    assert count(warehouse_url) == 60


def test_an_unreachable_warehouse_pauses_the_export_which_then_catches_up(
    tmp_path: Path, warehouse_url: str
) -> None:
    sample(tmp_path)
    Exporter(Settings(data_dir=tmp_path, warehouse_url=warehouse_url), open_warehouse(warehouse_url)).init()
    down = f"bigquery://p/d?endpoint=http://127.0.0.1:{free_port()}"
    exporter = Exporter(Settings(data_dir=tmp_path, warehouse_url=down), open_warehouse(down))
    with pytest.raises(WarehouseUnreachableError, match="did not answer"):
        exporter.sync(now=NOW)
    exporter.close()
    # written earlier hours (none: the first call failed) and nothing half-done
    ledger = WarehouseLedger(Settings(data_dir=tmp_path).effective_database_url)
    assert [r.state for r in ledger.rows()] in ([], ["loading"])
    ledger.close()
    back = Exporter(Settings(data_dir=tmp_path, warehouse_url=warehouse_url), open_warehouse(warehouse_url))
    assert back.sync(now=NOW).rows == 60
    assert back.sync(now=NOW).rows == 0
    assert count(warehouse_url) == 60  # no gap, no duplicate
    back.close()


def test_a_job_that_fails_leaves_nothing_half_loaded_and_says_why(tmp_path: Path, warehouse_url: str) -> None:
    sample(tmp_path)
    wh = open_warehouse(warehouse_url)
    exporter = Exporter(Settings(data_dir=tmp_path, warehouse_url=warehouse_url), wh)
    exporter.init()
    assert exporter.sync(now=NOW.replace(hour=10, minute=5)).rows == 40  # hours 8 and 9
    # someone changes the staging table's first column to a number: the next load cannot match
    wh.drop_table("_hw_events_stage")
    wh.ensure_table(TableSpec("_hw_events_stage", (Column("id", "INT64"),)))
    again = Exporter(Settings(data_dir=tmp_path, warehouse_url=warehouse_url), open_warehouse(warehouse_url))
    with pytest.raises(JobFailedError):
        again.sync(now=NOW)
    assert count(warehouse_url) == 40  # nothing of hour 10 is in events
    status = again.status(now=NOW)
    assert status["last_error"] and "loading" in status["last_error"]
    assert [r["state"] for r in status["ledger"] if r["hour"].startswith("2026-11-20T10")] == ["loading"]
    # repaired (the table dropped: the next run makes it again), the hour goes in once
    wh.drop_table("_hw_events_stage")
    fixed = Exporter(Settings(data_dir=tmp_path, warehouse_url=warehouse_url), open_warehouse(warehouse_url))
    assert fixed.sync(now=NOW).rows == 20
    assert count(warehouse_url) == 60
    assert fixed.status(now=NOW)["last_error"] is None
    for e in (exporter, again, fixed):
        e.close()


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import datetime, UTC
    from pathlib import Path
    from headwater.config import Settings
    from headwater.stores.warehouse import open_warehouse
    from headwater.warehouse.export import Exporter

    data_dir, url, where = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    wh = open_warehouse(url)
    real = {"load": wh.load_parquet, "apply": wh.run_script}

    def killing(name):
        def call(*args, **kwargs):
            result = real[name](*args, **kwargs)
            if args[0] != "identities":  # the real BigQuery call went through; die before the ledger knows
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return call

    setattr(wh, "load_parquet" if where == "load" else "run_script", killing(where))
    now = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
    Exporter(Settings(data_dir=data_dir, warehouse_url=url), wh).sync(now=now)
    """
)


@pytest.mark.parametrize("where", ["load", "apply"])
def test_kill_9_after_a_job_and_before_the_ledger_knows_never_duplicates(
    tmp_path: Path, warehouse_url: str, bq_emulator: BqEmulator, where: str
) -> None:
    sample(tmp_path)
    Exporter(Settings(data_dir=tmp_path, warehouse_url=warehouse_url), open_warehouse(warehouse_url)).init()
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(tmp_path), warehouse_url, where],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    ledger = WarehouseLedger(Settings(data_dir=tmp_path).effective_database_url)
    assert [r.state for r in ledger.rows() if r.rows_loaded or r.state != "done"] == ["loading"]
    ledger.close()
    # after the kill during "apply" the first hour's rows are in BigQuery, but the ledger says loading
    assert count(warehouse_url) == (20 if where == "apply" else 0)
    exporter = Exporter(
        Settings(data_dir=tmp_path, warehouse_url=warehouse_url), open_warehouse(warehouse_url)
    )
    assert exporter.sync(now=NOW).rows == 60
    assert count(warehouse_url) == 60
    assert count(warehouse_url, "events_deduped") == 60
    exporter.close()
    assert os.path.exists(tmp_path / "run" / "warehouse-export.lock")  # the dead holder's flock went with it
