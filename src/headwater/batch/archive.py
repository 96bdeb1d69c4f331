"""Monthly archive (a month's daily files compacted into one zstd Parquet file sorted by UTC day,
then actor, then time) and
retention of the raw log (JSON Lines already in the lake, archived, and older than N days).

The archive carries the derived dimensions (lake/derived.py) on every row: the rows of daily files
written before them (or of an earlier archive compacted from both kinds) get them computed by the
ETL's rules as they are copied, so an archive is never "mixed" (docs/insights.md, "Derived
dimensions")."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from headwater.batch.etl import etl_lock
from headwater.lake.derived import add_user_agents, agents_sql, by_state, completed_sql
from headwater.lake.layout import Lake, LakeError, log_sizes
from headwater.lake.sql import connect, file_list, quote
from headwater.log.files import list_log_files

ROW_GROUP_SIZE = 122_880
#: A metric over a few days of an archived month skips the other days by the time statistics; within a
#: day, a person's rows are together, so a timeline reads one row group per day instead of about one
#: per event (over a 50M-event lake's month: a page 1,003 -> 219 ms, the file 10 % smaller, the
#: metrics no slower; smaller row groups would make every reader parse a footer 4-8x bigger)
ARCHIVE_ORDER = "CAST(ts AS DATE), actor, ts"


def month_days(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def parse_month(text: str) -> tuple[int, int]:
    try:
        year, month = (int(p) for p in text.split("-"))
        date(year, month, 1)
    except ValueError:
        raise LakeError(f"month must be YYYY-MM, got {text!r}") from None
    return year, month


def archive_month(data_dir: Path, year: int, month: int, memory_limit: str = "1GB") -> dict[str, Any]:
    """Compact the month's daily event files (and any earlier archive of it) into one file."""
    lake = Lake(data_dir / "lake")
    first, last = month_days(year, month)
    started = time.monotonic()
    with etl_lock(lake):
        daily = [
            p for d in lake.event_dates() if first <= d <= last for p in lake.date_dir(d).glob("*.parquet")
        ]
        target = lake.archive_file(year, month)
        sources = sorted(daily) + ([target] if target.exists() else [])
        if not sources:
            raise LakeError(f"no events in the lake for {year:04d}-{month:02d}")
        tmp = target.with_name(f".events.{os.getpid()}.tmp")
        target.parent.mkdir(parents=True, exist_ok=True)
        con = connect(lake.tmp_dir, memory_limit)
        try:
            row = con.execute(
                f"COPY ({_completed(con, sources)} ORDER BY {ARCHIVE_ORDER}) TO {quote(str(tmp))} "
                f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_SIZE})"
            ).fetchone()
        finally:
            con.close()
        os.replace(tmp, target)
        for path in daily:
            path.unlink()
            if not any(path.parent.iterdir()):
                shutil.rmtree(path.parent, ignore_errors=True)
    return {
        "month": f"{year:04d}-{month:02d}",
        "rows": int(row[0]) if row else 0,
        "files_compacted": len(daily),
        "archive": str(target),
        "bytes": target.stat().st_size,
        "seconds": round(time.monotonic() - started, 3),
    }


def _completed(con: Any, sources: list[Path]) -> str:
    """SELECT of every row of the month's files with the derived columns: read as stored, or
    computed by the rules for the rows of files written before them (their user agents described
    once). One read of every file, as before the columns (the same columns, hive's included)."""
    read = f"read_parquet({file_list(sources)}, union_by_name = true)"
    groups = by_state(sources)
    if not groups["old"] and not groups["mixed"]:
        return f"SELECT * FROM {read}"
    state = "old" if len(groups["old"]) == len(sources) else "mixed"  # mixed: d_version NULL on some
    add_user_agents(con, agents_sql(read, state))
    return completed_sql(read, state)


def apply_retention(
    data_dir: Path,
    keep_days: int | None,
    today: date,
    still_needed: Callable[[str, date], bool] | None = None,
) -> list[str]:
    """Delete raw log files received more than `keep_days` ago whose content is loaded (manifest with
    the same sizes) and whose event months are all archived; the same for the OpenRTB decision
    log's files of days loaded into the lake. None keeps everything. A day ``still_needed`` says
    True of, for its kind ('events' or 'decisions': not exported to the warehouse yet), is kept.
    What it deletes is written to ``<data>/audit/privacy.jsonl``, as the other retention policies'
    removals are (privacy/retention.py)."""
    if keep_days is None:
        return []
    lake = Lake(data_dir / "lake")
    archived = set(lake.archived_months())
    deleted = []
    with etl_lock(lake):
        for recv in sorted({lf.day for lf in list_log_files(data_dir / "log", "events")}):
            if retention_hold(lake, data_dir / "log", recv, keep_days, today, still_needed, archived):
                continue
            for lf in list_log_files(data_dir / "log", "events"):
                if lf.day == recv:
                    lf.path.unlink()
                    deleted.append(lf.name)
        decisions = _decisions_retention(
            lake, data_dir / "log", today - timedelta(days=keep_days), still_needed
        )
        if deleted or decisions:
            from headwater.privacy.retention import audit_to

            kinds = {"raw_log_files": deleted, "decision_files": decisions}
            audit_to(data_dir, {"retention": {k: names for k, names in kinds.items() if names}})
    return deleted + decisions


def retention_hold(
    lake: Lake,
    log_dir: Path,
    recv: date,
    keep_days: int | None,
    today: date,
    still_needed: Callable[[str, date], bool] | None = None,
    archived: set[tuple[int, int]] | None = None,
) -> str | None:
    """Why raw-log retention keeps a received day's event files (None: they may go): the one rule
    of :func:`apply_retention`, also read by log shipping before it deletes a shipped day."""
    if keep_days is None:
        return "raw-log retention is off (HEADWATER_RAW_RETENTION_DAYS is not set)"
    if recv >= today - timedelta(days=keep_days):
        return f"retention keeps it until {recv + timedelta(days=keep_days + 1)}"
    if still_needed is not None and still_needed("events", recv):
        return "not exported to the warehouse yet"
    manifest = lake.read_manifest(recv)
    if manifest is None:
        return "not loaded into the lake yet (daily ETL)"
    if not _loaded_as_is(manifest, log_sizes(log_dir, recv)):
        return "changed since the daily ETL loaded it (loaded again at its next run)"
    months = {(int(d[:4]), int(d[5:7])) for d in manifest.get("event_dates", [])}
    if not months <= (set(lake.archived_months()) if archived is None else archived):
        return "its months are not archived yet (monthly archive)"
    return None


def _loaded_as_is(manifest: dict[str, object], local: dict[str, int]) -> bool:
    """Every local file of the day is in the lake at its present size. The manifest may name more
    files: in a cluster (docs/scale-out.md) the day was loaded from every host's files."""
    loaded = manifest.get("files")
    return isinstance(loaded, dict) and all(loaded.get(n) == size for n, size in local.items())


def _decisions_retention(
    lake: Lake, log_dir: Path, before: date, still_needed: Callable[[str, date], bool] | None
) -> list[str]:
    """Delete decision files of days before ``before`` whose files are in the lake as they are."""
    from headwater.batch.decisions import decision_sizes, read_decisions_manifest

    deleted = []
    for day in sorted({lf.day for lf in list_log_files(log_dir, "decisions")}):
        if day >= before or (still_needed is not None and still_needed("decisions", day)):
            continue
        manifest = read_decisions_manifest(lake, day)
        if manifest is None or not _loaded_as_is(manifest, decision_sizes(log_dir, day)):
            continue
        for lf in list_log_files(log_dir, "decisions"):
            if lf.day == day:
                lf.path.unlink()
                deleted.append(lf.name)
    return deleted
