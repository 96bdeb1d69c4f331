"""Retention policies beside the raw log's (docs/privacy.md, "Retention"), applied by the nightly
scheduler after the ETL, each deletion written to the privacy audit file:

- ``lake_retention_months``: the lake's event files (daily partitions and monthly archives) of
  months older than N whole months, the rollups of days received then, tool usage and decisions;
  the identity links stay (they merge the ids of the events that remain);
- ``quarantine_retention_days``: quarantine files (rejected events) older than N days;
- ``event_retention_days``: per event name, its rows older than N days in the lake's event files
  and in the ``event_people`` rollup (event, person hash, time: what funnels read), each file
  rewritten whole (temporary file, fsync, rename); the ``dimension_days`` rollup of each received
  day that held such rows is written again from the lake's remaining rows (it counts per day),
  and for ``page`` (page views: the event name of every page event) the ``visits`` rollup too.
  The daily presence rollups hold no event name and keep the days those people were active, so
  closed days' DAU does not move when an event's retention passes; the event's own counts and
  funnels do.

The raw log follows ``raw_retention_days`` (batch/archive.py), its removals written to the same
audit file (:func:`audit_to`).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from headwater.config import Settings
from headwater.lake.layout import Lake
from headwater.log.files import list_log_files

_RECV_ROLLUPS = ("user_days", "person_days", "traits", "event_people", "sessions", "dimension_days", "visits")


def months_back(today: date, months: int) -> date:
    """The first day of the month ``months`` whole months before today's."""
    index = today.year * 12 + (today.month - 1) - months
    return date(index // 12, index % 12 + 1, 1)


def apply_privacy_retention(
    settings: Settings, today: date | None = None, lake: bool = True
) -> dict[str, Any]:
    """Apply every retention policy that is set; what each removed (also in the audit file).
    ``lake=False``: the quarantine's only (a cluster host that does not hold the lake's lease)."""
    today = today or datetime.now(UTC).date()
    report: dict[str, Any] = {}
    if settings.quarantine_retention_days:
        cutoff = today - timedelta(days=settings.quarantine_retention_days)
        gone = [lf.path for lf in list_log_files(settings.log_dir, "quarantine") if lf.day < cutoff]
        for path in gone:
            path.unlink(missing_ok=True)
        if gone:
            report["quarantine_files"] = sorted(p.name for p in gone)
    if lake and (settings.lake_retention_months or settings.event_retention_days):
        from headwater.batch.etl import etl_lock

        the_lake = Lake(settings.data_dir / "lake")
        with etl_lock(the_lake):
            if settings.lake_retention_months:
                removed = _lake_retention(the_lake, months_back(today, settings.lake_retention_months))
                if removed:
                    report["lake_files"] = removed
            for name, days in sorted(settings.event_retention_days.items()):
                cutoff = today - timedelta(days=days)
                rows = _event_retention(the_lake.event_files(None, cutoff - timedelta(days=1)), name, cutoff)
                if rows:
                    report.setdefault("event_rows", {})[name] = rows
                rows = _event_retention(_recv_files(the_lake.event_people_dir), name, cutoff)
                if rows:
                    report.setdefault("event_people_rows", {})[name] = rows
                rewritten = _dimension_days_retention(the_lake, name, cutoff)
                if rewritten:
                    report.setdefault("dimension_days_rewritten", {})[name] = rewritten
                if rewritten and name == "page":  # page views: the visit rollup of those days too
                    _rewrite_visits(the_lake, rewritten)
                    report["visits_rewritten"] = rewritten
    if report:
        audit_file(settings, {"retention": report})
    return report


def _lake_retention(lake: Lake, cutoff: date) -> list[str]:
    """Whole files of event dates (and received days) before ``cutoff``."""
    doomed: list[Path] = []
    for day in lake.event_dates():
        if day < cutoff:
            doomed += sorted(lake.date_dir(day).glob("*.parquet"))
    for year, month in lake.archived_months():  # a month goes whole, once all of it is before cutoff
        if (date(year, month, 1) + timedelta(days=32)).replace(day=1) <= cutoff:
            doomed.append(lake.archive_file(year, month))
    for name in _RECV_ROLLUPS:
        for path in _recv_files(lake.root / name):
            if _day_of(path.stem.split("=", 1)[1]) < cutoff:
                doomed.append(path)
    for folder in (lake.tool_usage_dir, lake.decisions_dir):
        for path in sorted(folder.glob("date=*.parquet")) if folder.is_dir() else []:
            if date.fromisoformat(path.stem.split("=", 1)[1]) < cutoff:
                doomed.append(path)
    for path in doomed:
        path.unlink(missing_ok=True)
    return [str(p.relative_to(lake.root)) for p in doomed]


def _recv_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("recv=*.parquet")) if folder.is_dir() else []


def _event_retention(files: list[Path], name: str, cutoff: date) -> int:
    """Rows of event ``name`` older than ``cutoff`` out of ``files`` (event files, or the
    ``event_people`` rollup's: both have ``event`` and ``ts``); rows removed. Each file is rewritten
    as a deletion rewrites it (lake/erase_files.py): its other rows in their order and row groups,
    its compression, the temporary file fsynced and renamed over it."""
    from headwater.batch.etl import DAILY_ZSTD_LEVEL
    from headwater.lake.erase_files import Kind, OlderEvents, rewrite, scan
    from headwater.lake.sql import connect

    if not files:
        return 0
    older = OlderEvents(name, cutoff)
    daily = [p for p in files if p.parent.parent.name == "events"]
    kinds = [
        Kind("event retention", daily, older, zstd_level=DAILY_ZSTD_LEVEL),
        Kind("event retention", [p for p in files if p not in daily], older),
    ]
    con = connect()
    removed = 0
    try:
        for kind in kinds:
            for path, count in scan(con, kind).items():
                rewrite(con, kind, path)
                removed += count
    finally:
        con.close()
    return removed


def _dimension_days_retention(lake: Lake, name: str, cutoff: date) -> list[str]:
    """The dimension-day rollup counts events per day, not per time: each received day with a row
    of event ``name`` whose first event is older than ``cutoff`` is written again from its lake
    rows, which the retention has just cut; the received days rewritten."""
    from headwater.lake.erase_files import read_sql
    from headwater.lake.rollups.dimension_days import rewrite_dimension_days
    from headwater.lake.sql import connect, quote

    files = _recv_files(lake.dimension_days_dir)
    if not files:
        return []
    con = connect(lake.tmp_dir)
    try:
        found = con.execute(
            f"""SELECT DISTINCT filename FROM {read_sql(files, ", filename = true")}
                WHERE NOT every_event AND event = {quote(name)}
                      AND first_ts < TIMESTAMPTZ '{cutoff.isoformat()} 00:00:00+00'"""
        ).fetchall()
        recvs = sorted(_day_of(Path(str(f)).stem.split("=", 1)[1]) for (f,) in found)
        for recv in recvs:
            rewrite_dimension_days(con, lake, recv)
    finally:
        con.close()
    return [r.isoformat() for r in recvs]


def _rewrite_visits(lake: Lake, recvs: list[str]) -> None:
    """The visit rollup of received days (ISO dates) written again from their remaining rows."""
    from headwater.lake.rollups.visits import write_visits
    from headwater.lake.sql import connect

    con = connect(lake.tmp_dir)
    try:
        for recv in recvs:
            write_visits(con, lake, date.fromisoformat(recv))
    finally:
        con.close()


def _day_of(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


def audit_file(settings: Settings, record: dict[str, Any]) -> None:
    """One line in ``<data>/audit/privacy.jsonl``: what was deleted, when; never a person's id."""
    audit_to(settings.data_dir, record)


def audit_to(data_dir: Path, record: dict[str, Any]) -> None:
    """:func:`audit_file` of a data directory (the raw log's retention knows no more)."""
    path = data_dir / "audit" / "privacy.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), **record}, sort_keys=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())
