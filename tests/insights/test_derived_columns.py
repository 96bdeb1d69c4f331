"""Derived dimensions written at load (lake/derived.py): the daily ETL writes them as columns of the
event files, and every insight answers the same JSON, to the byte, over

- ``new``: the generated log (tests/insights/data.py) loaded by the ETL (the last day not loaded);
- ``old``: the same lake with the columns taken out of every event file, as the ETL wrote them before;
- ``mixed``: the columns taken out of the files of the first days only, then March compacted into
  an archive holding both kinds of rows, as the monthly archive did before it computed the columns
  (:func:`old_archive`; and April's files of the new kind);
- ``log``: nothing loaded, every event read from the log (LakeQuery's ``pending``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from headwater.batch.archive import month_days
from headwater.insights.paths import run_paths
from headwater.insights.request import DERIVED
from headwater.insights.trend import run_trend
from headwater.insights.web import run_web
from headwater.lake.derived import COLUMNS, MARK, file_state
from headwater.lake.layout import Lake
from headwater.lake.sql import parquet_sql, quote
from tests.batch.logdata import write_log
from tests.insights.data import DAYS, build, events

START, END = "2026-03-25", "2026-04-01"
USERS = {"event": None, "measure": "users"}


def strip(path: Path) -> None:
    """Rewrite a lake file as the ETL wrote it before the derived columns."""
    tmp = path.with_name(path.name + ".tmp")
    con = duckdb.connect()
    try:
        dropped = ", ".join([*COLUMNS, MARK])
        con.execute(
            f"COPY (SELECT * EXCLUDE ({dropped})"
            f" FROM read_parquet({quote(str(path))}, hive_partitioning = false))"
            f" TO {quote(str(tmp))} (FORMAT parquet, COMPRESSION zstd)"
        )
    finally:
        con.close()
    os.replace(tmp, path)


def old_archive(lake: Lake, year: int, month: int, files: list[Path] | None = None) -> Path:
    """Compact the month's daily files (or ``files`` of it) as the monthly archive did before it
    computed the derived columns: the rows of older files keep none (a "mixed" archive)."""
    first, last = month_days(year, month)
    daily = [p for p in lake.event_files(first, last) if p.parent.parent == lake.events_dir]
    files = sorted(daily if files is None else files)
    target = lake.archive_dir / f"month={year:04d}-{month:02d}" / "events.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute(
            f"COPY ({parquet_sql(files)} ORDER BY ts) TO {quote(str(target))}"
            " (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
        )
    finally:
        con.close()
    for path in files:
        path.unlink()
        if not any(path.parent.iterdir()):
            path.parent.rmdir()
    return target


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("derived")
    new = root / "new"
    build(new)
    out = {"new": new}
    for name in ("old", "mixed"):
        shutil.copytree(new, root / name)
        out[name] = root / name
    for path in Lake(out["old"] / "lake").event_files():
        strip(path)
    mixed = Lake(out["mixed"] / "lake")
    for path in mixed.event_files(None, DAYS[3]):
        strip(path)
    old_archive(mixed, 2026, 3)
    out["log"] = root / "log"
    write_log(out["log"], events())
    return out


def test_the_etl_writes_the_columns_and_the_reader_knows_each_file(lakes: dict[str, Path]) -> None:
    new = Lake(lakes["new"] / "lake").event_files()
    assert new and {file_state(p) for p in new} == {"new"}
    assert {file_state(p) for p in Lake(lakes["old"] / "lake").event_files()} == {"old"}
    mixed = Lake(lakes["mixed"] / "lake")
    assert [file_state(p) for p in mixed.event_files(None, DAYS[7])] == ["mixed"]  # March's archive
    assert {file_state(p) for p in mixed.event_files(DAYS[8], None)} <= {"new"}
    con = duckdb.connect()
    try:
        read = parquet_sql(new, f"d_browser, d_device_type, {MARK}")
        rows = con.execute(f"SELECT DISTINCT * FROM ({read})").fetchall()
    finally:
        con.close()
    assert ("Googlebot", "bot", 1) in rows and ("Mobile Safari", "tablet", 1) in rows


def test_files_with_the_columns_are_read_without_json(lakes: dict[str, Path]) -> None:
    """Only the rows of older files parse ``context``: a read of new files never names it."""
    new = Lake(lakes["new"] / "lake").event_files()
    assert "context" not in parquet_sql(new, "actor, ts, d_browser, d_path")
    old = Lake(lakes["old"] / "lake").event_files()
    both = parquet_sql([*new, *old], "actor, ts, d_browser, d_path")
    assert both.count("context") == 1  # one parse, of the old files


TRENDS: dict[str, dict[str, Any]] = {
    **{
        f"breakdown-{name}": {"series": [USERS], "breakdown": {"type": "derived", "name": name}}
        for name in DERIVED
    },
    "filters": {
        "series": [USERS, {"event": "Tool Used", "measure": "events"}],
        "filters": [
            {"type": "derived", "name": "browser", "op": "in", "value": ["Chrome", "Mobile Safari"]},
            {"type": "derived", "name": "path", "op": "contains", "value": "/p"},
            {"type": "derived", "name": "os", "op": "exists"},
        ],
        "filter_match": "any",
        "breakdown": {"type": "derived", "name": "device_type"},
        "tz": "Europe/Paris",
        "compare": True,
    },
    "series-filter": {
        "series": [
            {
                "event": None,
                "measure": "events",
                "filters": [
                    {"type": "derived", "name": "referrer_domain", "op": "eq", "value": "google.com"}
                ],
            }
        ],
        "filters": [{"type": "derived", "name": "device_type", "op": "neq", "value": "bot"}],
        "interval": "range",
        "breakdown": {"type": "derived", "name": "country"},
    },
}
PATHS: dict[str, dict[str, Any]] = {
    "pages": {
        "kind": "pages",
        "event": "/",
        "filters": [{"type": "derived", "name": "browser", "op": "neq", "value": "Googlebot"}],
    },
    "events": {
        "event": "Tool Used",
        "filters": [{"type": "derived", "name": "utm_source", "op": "exists", "value": False}],
        "direction": "previous",
    },
}
WEB: dict[str, dict[str, Any]] = {
    "all": {"tz": "Europe/Paris"},
    "filtered": {
        "filters": [
            {"type": "derived", "name": "device_type", "op": "in", "value": ["mobile", "tablet"]},
            {"type": "derived", "name": "referrer_domain", "op": "exists"},
        ],
        "filter_match": "any",
        "compare": True,
    },
}


def _answers(data: Path) -> dict[str, str]:
    out = {}
    for name, body in TRENDS.items():
        out[f"trend {name}"] = run_trend(data, "UTC", {"start": START, "end": END, **body})
    for name, body in PATHS.items():
        out[f"paths {name}"] = run_paths(data, "UTC", {"start": START, "end": END, **body})
    for name, body in WEB.items():
        out[f"web {name}"] = run_web(data, "UTC", {"start": START, "end": END, **body})
    return {k: json.dumps(v, sort_keys=True) for k, v in out.items()}


def test_every_lake_and_the_log_answer_the_same_json(lakes: dict[str, Path]) -> None:
    want = _answers(lakes["new"])
    assert '"Googlebot"' in want["trend breakdown-browser"] and '"KR"' in want["trend breakdown-country"]
    for kind in ("old", "mixed", "log"):
        got = _answers(lakes[kind])
        assert [k for k in want if got[k] != want[k]] == [], kind
