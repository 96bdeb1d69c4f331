"""The decision log into the lake: a UTC day's ``decisions-YYYYMMDD.<writer>.jsonl`` files ->
``lake/decisions/date=YYYY-MM-DD.parquet`` (one file per day, every writer's decisions).

Run by the daily ETL (:func:`headwater.batch.etl.run_daily`) for each closed day whose decision
files are not in the lake yet, or have changed since (sizes kept in the manifest
``lake/_etl/decisions=YYYYMMDD.json``). A run rewrites the day's file from its decision files, so
running again gives the same file. Only complete lines are read: a last line a killed worker left
half written is skipped (and cut by the worker when it reopens the file); a line that does not parse
is skipped too (DuckDB's ``ignore_errors``). No file of a day: the lake keeps what it has.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from headwater.atomic_file import write_atomic
from headwater.decisions.record import COLUMNS
from headwater.lake.layout import Lake, LakeError, complete_lines
from headwater.lake.sql import connect, file_list, quote
from headwater.log.files import list_log_files


def decision_sizes(log_dir: Path, day: date) -> dict[str, int]:
    """The decision files of a UTC day, with their sizes."""
    out = {}
    for lf in list_log_files(log_dir, "decisions"):
        if lf.day == day:
            try:
                out[lf.name] = lf.path.stat().st_size
            except FileNotFoundError:
                continue
    return out


def read_decisions_manifest(lake: Lake, day: date) -> dict[str, Any] | None:
    path = lake.decisions_manifest(day)
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LakeError(f"unreadable decisions manifest {path}: {exc}") from exc
    return data


def pending_decision_days(lake: Lake, log_dir: Path) -> list[date]:
    """UTC days whose decision files are not (or not as they are now) in the lake."""
    days = sorted({lf.day for lf in list_log_files(log_dir, "decisions")})
    out = []
    for day in days:
        manifest = read_decisions_manifest(lake, day)
        if manifest is None or manifest.get("files") != decision_sizes(log_dir, day):
            out.append(day)
    return out


def decisions_sql(paths: Sequence[Path]) -> str:
    """SELECT of the lake's decision rows (COLUMNS, in order) from decision log files."""
    if not paths:
        return "SELECT " + ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in COLUMNS.items()) + " WHERE false"
    columns = "{" + ", ".join(f"{quote(n)}: {quote(t)}" for n, t in COLUMNS.items()) + "}"
    names = ", ".join(f'"{n}"' for n in COLUMNS)
    # ignore_errors turns a line that does not parse into a row of NULLs: left out by the WHERE
    return f"""
        SELECT {names}
        FROM read_json({file_list(paths)}, format = 'newline_delimited', columns = {columns},
                       ignore_errors = true)
        WHERE "id" IS NOT NULL AND "timestamp" IS NOT NULL
    """


def load_decisions(
    lake: Lake, log_dir: Path, day: date, memory_limit: str = "1GB", threads: int = 2
) -> dict[str, Any] | None:
    """Write a day's lake file from its decision files (replacing it); what was loaded, or None
    when the day has no decision file. The caller holds the ETL lock."""
    started = time.monotonic()
    sizes = decision_sizes(log_dir, day)
    if not sizes:
        return None
    stage = lake.tmp_dir / f"decisions-{day:%Y%m%d}-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    try:
        paths, _ = complete_lines([log_dir / name for name in sorted(sizes)], stage)
        con = connect(lake.tmp_dir, memory_limit, threads)
        try:
            rows = _copy(con, decisions_sql(paths), lake.decisions_file(day))
        finally:
            con.close()
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    result = {
        "day": day.isoformat(),
        "files": sizes,  # as listed before reading: a file that grows after makes the day pending
        "rows": rows,
        "seconds": round(time.monotonic() - started, 3),
    }
    manifest = {**result, "finished_at": datetime.now(UTC).isoformat()}
    write_atomic(lake.decisions_manifest(day), json.dumps(manifest, indent=1, sort_keys=True).encode())
    return result


def _copy(con: Any, select: str, target: Path) -> int:
    """COPY a SELECT to a Parquet file, atomically; the rows written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    row = con.execute(f"COPY ({select}) TO {quote(str(tmp))} (FORMAT parquet, COMPRESSION zstd)").fetchone()
    tmp.replace(target)
    return int(row[0]) if row else 0
