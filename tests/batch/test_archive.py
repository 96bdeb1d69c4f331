"""Monthly archive and raw-log retention: the metrics read the same numbers before and after."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from headwater.batch.archive import apply_retention, archive_month
from headwater.batch.etl import run_daily
from headwater.metrics.registry import run_metric
from tests.batch.logdata import ev, write_log


def test_archive_then_retention(tmp_path: Path) -> None:
    # u1 on 03-30 and 03-31, u2 on 03-31 and 04-01; a late 03-31 event of u3 received 04-01
    days = write_log(
        tmp_path,
        [
            ev("2026-03-30T10:00:00.000Z", user="u1"),
            ev("2026-03-31T10:00:00.000Z", user="u1"),
            ev("2026-03-31T11:00:00.000Z", user="u2"),
            ev("2026-04-01T11:00:00.000Z", user="u2"),
            ev("2026-03-31T12:00:00.000Z", user="u3", received="2026-04-01T08:00:00.000Z"),
        ],
    )
    for d in days:
        run_daily(tmp_path, d, "UTC")
    before = run_metric(tmp_path, "UTC", "dau", "2026-03-30", "2026-04-01")
    assert [r["value"] for r in before["rows"]] == [1, 3, 1]

    out = archive_month(tmp_path, 2026, 3)
    assert out["rows"] == 4 and out["files_compacted"] == 3
    archive = tmp_path / "lake/archive/month=2026-03/events.parquet"
    codecs = duckdb.sql(f"SELECT DISTINCT compression FROM parquet_metadata('{archive}')").fetchall()
    assert codecs == [("ZSTD",)]
    assert not (tmp_path / "lake/events/date=2026-03-31").exists()
    after = run_metric(tmp_path, "UTC", "dau", "2026-03-30", "2026-04-01")
    assert after["rows"] == before["rows"]

    # a re-run of an archived day adds nothing: its messages are in the archive
    assert run_daily(tmp_path, date(2026, 3, 31), "UTC").rows_out == 0

    # retention: 03-30 and 03-31 only hold March events (archived); 04-01 holds an April event
    deleted = apply_retention(tmp_path, 1, today=date(2026, 4, 10))
    assert deleted == ["events-20260330.t.jsonl", "events-20260331.t.jsonl"]
    assert run_metric(tmp_path, "UTC", "dau", "2026-03-30", "2026-04-01")["rows"] == before["rows"]
    assert apply_retention(tmp_path, None, today=date(2026, 4, 10)) == []
    # the raw log of an archived day is gone: a re-run says so and changes nothing
    assert run_daily(tmp_path, date(2026, 3, 31), "UTC").skipped is not None
