"""Bad input to the metrics: each answered with a clear error (or a clear 'missing')."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from headwater.batch.etl import run_daily
from headwater.lake.layout import LakeError
from headwater.lake.params import MetricError
from headwater.metrics.registry import run_metric
from tests.batch.logdata import ev, write_log


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    write_log(tmp_path, [ev(f"2026-09-0{d}T10:00:00.000Z", user=f"u{d}") for d in (1, 2, 3)])
    return tmp_path


@pytest.mark.parametrize(
    ("name", "start", "end", "tz", "code", "text"),
    [
        ("dau", "2026-09-03", "2026-09-01", None, "start_after_end", "'start' (2026-09-03) is after 'end'"),
        ("nope", "2026-09-01", "2026-09-03", None, "unknown_metric", "unknown metric 'nope'"),
        ("dau", "2026-09-01", "2026-09-03", "Mars/Olympus", "unknown_timezone", "'Mars/Olympus'"),
        ("dau", "2026-13-01", "2026-09-03", None, "bad_date", "parameter 'start' is not a date"),
        ("dau", None, "2026-09-03", None, "missing_parameter", "'start' is required"),
    ],
)
def test_errors(data: Path, name: str, start: str, end: str, tz: str | None, code: str, text: str) -> None:
    with pytest.raises(MetricError) as info:
        run_metric(data, "UTC", name, start, end, tz)
    assert info.value.code == code and text in info.value.message


def test_unknown_option(data: Path) -> None:
    with pytest.raises(MetricError, match="takes no parameter 'steps'"):
        run_metric(data, "UTC", "dau", "2026-09-01", "2026-09-03", options={"steps": "a,b"})
    with pytest.raises(MetricError, match="at least two event names"):
        run_metric(data, "UTC", "funnel", "2026-09-01", "2026-09-03", options={"steps": "a"})


def test_missing_day_of_logs(data: Path) -> None:
    (data / "log" / "events-20260902.t.jsonl").unlink()  # the log of 09-02 is lost
    out = run_metric(data, "UTC", "dau", "2026-09-01", "2026-09-03")
    assert [(r["value"], r["missing"]) for r in out["rows"]] == [(1, False), (None, True), (1, False)]


def test_corrupt_parquet_names_the_file(data: Path) -> None:
    for d in (1, 2, 3):
        run_daily(data, date(2026, 9, d), "UTC")
    bad = data / "lake" / "events" / "date=2026-09-02" / "recv-20260902.parquet"
    bad.write_bytes(b"this is not parquet at all, just garbage bytes")
    with pytest.raises(LakeError, match=f"corrupt Parquet file {bad}"):
        run_metric(data, "UTC", "sessions", "2026-09-01", "2026-09-03")
