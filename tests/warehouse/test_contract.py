"""The Warehouse port's contract, run against every implementation (BigQuery, through the emulator
and Google's official client): tables by spec, additive migrations, Parquet loads, scripts,
queries with parameters, and errors that say what to do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headwater.stores.warehouse import open_warehouse
from headwater.stores.warehouse.ports import (
    Column,
    JobFailedError,
    TableSpec,
    Warehouse,
    WarehouseError,
    WarehouseMissingError,
)

SPEC = TableSpec(
    "things",
    (Column("id", "STRING", required=True), Column("seen", "TIMESTAMP"), Column("n", "INT64")),
    partition_field="seen",
    clustering=("id",),
)


@pytest.fixture
def wh(warehouse_url: str) -> Iterator[Warehouse]:
    store = open_warehouse(warehouse_url)
    assert store.ensure_dataset() is True
    assert store.ensure_dataset() is False
    yield store
    store.close()


def parquet(path: Path, rows: list[tuple[str, datetime, int]]) -> Path:
    table = pa.table(
        {
            "id": pa.array([r[0] for r in rows], pa.string()),
            "seen": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
            "n": pa.array([r[2] for r in rows], pa.int64()),
        }
    )
    pq.write_table(table, path)
    return path


def test_tables_loads_and_additive_migrations(wh: Warehouse, tmp_path: Path) -> None:
    wh.ensure_table(SPEC)
    wh.ensure_table(SPEC)  # idempotent
    at = datetime(2026, 11, 20, 9, tzinfo=UTC)
    f = parquet(tmp_path / "a.parquet", [("a", at, 1), ("b", at, 2)])
    assert wh.load_parquet("things", f, job_id="hw_t_1", labels={"headwater": "test"}, replace=False) == 2
    assert wh.load_parquet("things", f, job_id="hw_t_2", labels={"headwater": "test"}, replace=False) == 2
    assert wh.load_parquet("things", f, job_id="hw_t_3", labels={"headwater": "test"}, replace=True) == 2
    # a later version adds a column at the end: existing rows keep theirs, the new one is NULL
    wider = TableSpec(
        SPEC.name, (*SPEC.columns, Column("note", "STRING")), SPEC.partition_field, SPEC.clustering
    )
    wh.ensure_table(wider)
    wh.run_script(
        f"BEGIN TRANSACTION; INSERT INTO {wh.table('things')} (id, seen, n, note)"
        f" VALUES ('c', TIMESTAMP '2026-11-20 10:00:00', 3, 'new'); COMMIT TRANSACTION;",
        job_id="hw_t_4",
        labels={"headwater": "test"},
    )
    got = wh.query(
        f"SELECT id, n, note FROM {wh.table('things')} WHERE n >= @least ORDER BY id", params={"least": 1}
    )
    assert got.rows == [
        {"id": "a", "n": 1, "note": None},
        {"id": "b", "n": 2, "note": None},
        {"id": "c", "n": 3, "note": "new"},
    ]
    assert got.bytes_processed is None or got.bytes_processed >= 0


def test_a_failed_transaction_changes_nothing(wh: Warehouse) -> None:
    wh.ensure_table(SPEC)
    table = wh.table("things")
    with pytest.raises(JobFailedError):
        wh.run_script(
            "BEGIN TRANSACTION;"
            f" INSERT INTO {table} (id, seen, n) VALUES ('x', TIMESTAMP '2026-11-20 10:00:00', 1);"
            f" INSERT INTO {table} (id, seen, n)"
            " VALUES ('y', TIMESTAMP '2026-11-20 10:00:00', 'not a number');"
            " COMMIT TRANSACTION;",
            job_id="hw_t_fail",
            labels={},
        )
    assert wh.query(f"SELECT count(*) AS n FROM {table}").rows == [{"n": 0}]


def test_errors_name_what_to_do(warehouse_url: str) -> None:
    missing = open_warehouse(warehouse_url)
    with pytest.raises(WarehouseMissingError, match="headwater warehouse init"):
        missing.check()
    missing.close()
    for bad, says in (
        ("bigquery://", "needs a project"),
        ("bigquery://p", "needs a dataset"),
        ("bigquery://p/has-dash", "letters, digits and underscores"),
        ("bigquery://p/d?region=eu", "unknown bigquery:// parameter 'region'"),
        ("bq://p/d", "unsupported warehouse URL"),
    ):
        with pytest.raises(WarehouseError, match=says):
            open_warehouse(bad)
