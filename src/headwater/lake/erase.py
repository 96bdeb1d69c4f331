"""Erasing a person from the Parquet lake: events, archives, every rollup and identity file
(issue 17, docs/privacy.md).

The lake is erased from its own files, not from the log (raw-log retention may have deleted the
days long ago). Under the ETL's lock, so no ETL writes from what it read before:

1. the person's ids are completed from the lake's identity map (headwater.lake.subject);
2. one query per folder finds the files holding a row of theirs; only those are rewritten;
3. tool_usage_stats of the UTC dates of their events is recomputed by its own rollup code, from
   the event files as they will be (its ``users`` are unique counts: they cannot be patched);
4. each file is replaced by a copy without their rows (headwater.lake.erase_files: tmp, fsync,
   rename, fsync of the folder), in an order that lets a killed run be finished by the next one:
   the events first, the identity files last, and the map, from which the ids are completed,
   at the very end; actors.parquet keeps its rows (the dense ids of every other file stay valid),
   the person's names replaced by a tombstone that holds no id.

A run killed at any point leaves whole files only; the next run removes the temporaries, finds
what is left and ends with the same lake as a run never killed. A run with nothing to erase
rewrites nothing. ``_etl/erased.json`` (no id in it) changes after every erase, which is what the
dashboard's caches compare (their signature is the ``_etl`` folder): a cached answer computed
before is never served again; forget_cached_answers deletes the ones stored on disk.

The decision log (``decisions/``) holds no person id and is left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from headwater.atomic_file import write_atomic
from headwater.batch.archive import ROW_GROUP_SIZE
from headwater.batch.etl import DAILY_ZSTD_LEVEL, etl_lock
from headwater.lake.erase_files import Kind, Match, fsync_all, read_sql, remove_strays, rewrite, scan
from headwater.lake.layout import Lake
from headwater.lake.rollups.tool_usage import write_tool_usage
from headwater.lake.sql import connect, quote
from headwater.lake.subject import Subject, find_subject, linked_ids, person_events, person_rollup_rows

#: events per aggregate of the tool usage recomputed for the person's dates (see _tool_usage)
TOOL_USAGE_CHUNK_ROWS = 2_000_000
#: Test hook: seconds to sleep after each file swap, so a test can kill a run midway.
PAUSE_ENV = "HEADWATER_TEST_ERASE_PAUSE_SECONDS"

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class LakeEraseReport:
    files_scanned: int
    files_rewritten: int
    rows_removed: int
    event_dates: list[str] = field(default_factory=list)  # UTC dates whose events held the person
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def erase_from_lake(
    lake: Lake, ids: Collection[str], progress: Progress | None = None, memory_limit: str = "1GB"
) -> LakeEraseReport:
    """Remove every row of the person ``ids`` names from the lake's Parquet files (see the module
    doc); ``progress(files_done, files_total)`` after each file."""
    started = time.monotonic()
    with etl_lock(lake):
        remove_strays(lake.root)
        con = connect(lake.tmp_dir, memory_limit)
        con.execute("SET preserve_insertion_order = true")  # a rewritten file keeps its row order
        try:
            report = _erase_locked(con, lake, find_subject(con, lake, ids), progress)
        finally:
            con.close()
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _erase_locked(con: Any, lake: Lake, subject: Subject, progress: Progress | None) -> LakeEraseReport:
    kinds = _kinds(lake, subject)
    found = {kind.name: scan(con, kind) for kind in kinds}
    report = LakeEraseReport(
        files_scanned=sum(len(k.files) for k in kinds),
        files_rewritten=0,
        rows_removed=sum(n for k in kinds if k.tombstone is None for n in found[k.name].values()),
    )
    event_files = sorted({*found["events"], *found["archive"]})
    dates = _event_dates(con, event_files, subject.events()) if event_files else []
    report.event_dates = [d.isoformat() for d in dates]
    todo = [(kind, path) for kind in kinds for path in sorted(found[kind.name])]
    total = len(todo) + len(dates)
    marker = _read_marker(lake)
    if not total:
        if marker.get("state") == "running":  # a killed run had done everything but this
            _write_marker(lake, marker, "done")
        return report
    _write_marker(lake, marker, "running")
    done = 0
    if progress is not None:
        progress(done, total)
    if dates:
        _tool_usage(con, lake, dates, event_files, subject.events())
        report.files_rewritten += len(dates)
        done += len(dates)
        _step(progress, done, total)
    for kind, path in todo:
        rewrite(con, kind, path)
        report.files_rewritten += 1
        done += 1
        _step(progress, done, total)
    _check_names_status(con, lake)
    _write_marker(lake, marker, "done")
    return report


def _kinds(lake: Lake, subject: Subject) -> list[Kind]:
    """Every kind of file that can hold the person, in the order they are rewritten (module doc):
    nothing a later run needs to find the person is changed before what depends on it."""

    def recv_files(folder: Path) -> list[Path]:
        return sorted(folder.glob("recv=*.parquet")) if folder.is_dir() else []

    def one(path: Path) -> list[Path]:
        return [path] if path.exists() else []

    daily = [p for d in lake.event_dates() for p in sorted(lake.date_dir(d).glob("*.parquet"))]
    archives = [p for p in lake.event_files() if p.parent.parent == lake.archive_dir]
    events = subject.events()
    return [
        Kind("events", daily, events, zstd_level=DAILY_ZSTD_LEVEL),
        Kind("archive", archives, events, row_group_size=ROW_GROUP_SIZE),
        Kind("user_days", recv_files(lake.user_days_dir), subject.by_name("actor"), keep_mtime=True),
        Kind("person_days", recv_files(lake.person_days_dir), subject.by_aid("aid")),
        Kind("traits", recv_files(lake.traits_dir), subject.by_name("actor")),
        Kind("event_people", recv_files(lake.event_people_dir), subject.by_hash("actor_hash")),
        Kind("sessions", recv_files(lake.sessions_dir), subject.by_hash("actor_hash")),
        Kind("dimension_days", recv_files(lake.dimension_days_dir), subject.by_hash("actor_hash")),
        Kind("visits", recv_files(lake.visits_dir), subject.by_hash("actor_hash")),
        Kind("links", recv_files(lake.links_dir), subject.by_name("source", "user")),
        Kind("map_ids", one(lake.map_ids_file), subject.by_aid("aid", "pid")),
        Kind("names", one(lake.names_file), subject.by_name("name")),
        Kind("actors", one(lake.actors_file), subject.by_name("name"), tombstone="name"),
        Kind("map", one(lake.identity_map), subject.by_name("key", "user_id"), keep_mtime=True),
    ]


def _event_dates(con: Any, files: list[Path], match: Match) -> list[date]:
    rows = con.execute(
        f"SELECT DISTINCT CAST(ts AS DATE) FROM {read_sql(files)} WHERE {match.sql()} AND ts IS NOT NULL"
    ).fetchall()
    return sorted(r[0] for r in rows)


def _tool_usage(con: Any, lake: Lake, dates: list[date], files: list[Path], match: Match) -> None:
    """tool_usage_stats of the dates, by the ETL's own code, reading the person's files as they
    will be once rewritten (so this step may come first, and is redone as long as they are not).
    A few dates at a time (about TOOL_USAGE_CHUNK_ROWS events each, read by a time range that the
    files' statistics prune: archives are sorted by day first): the ETL's aggregate over the 90 days of
    a 50M-event lake at once does not fit its memory limit."""
    rows = dict(
        con.execute(
            f"SELECT CAST(ts AS DATE) AS d, count(*) FROM {read_sql(files)} WHERE ts IS NOT NULL GROUP BY d"
        ).fetchall()
    )
    chunks: list[list[date]] = [[]]
    size = 0
    for day in dates:
        if chunks[-1] and size + rows.get(day, 0) > TOOL_USAGE_CHUNK_ROWS:
            chunks.append([])
            size = 0
        chunks[-1].append(day)
        size += rows.get(day, 0)
    for chunk in chunks:
        lo, hi = (quote(f"{d.isoformat()} 00:00:00+00") for d in (chunk[0], chunk[-1] + timedelta(days=1)))
        own = (
            f"SELECT tool_id, event, actor, ts FROM {read_sql(files)}"
            f" WHERE ts >= TIMESTAMPTZ {lo} AND ts < TIMESTAMPTZ {hi} AND NOT ({match.sql()})"
        )
        write_tool_usage(con, lake, chunk, own, files)
    fsync_all(lake.tool_usage_dir / f"date={d.isoformat()}.parquet" for d in dates)


def _check_names_status(con: Any, lake: Lake) -> None:
    """names.json says how many names the lake has and how many distinct hashes: recounted from
    names.parquet when it no longer agrees (a name removed; also after a run killed in between)."""
    if not lake.names_file.exists():
        return
    row = con.execute(
        f"SELECT count(*), count(DISTINCT hash(name)) FROM {read_sql([lake.names_file])}"
    ).fetchone()
    status = {"names": int(row[0]), "hashes": int(row[1])} if row else {"names": 0, "hashes": 0}
    try:
        current = json.loads(lake.names_status.read_text())
    except (OSError, ValueError):
        current = None
    if current != status:
        write_atomic(lake.names_status, json.dumps(status).encode())
        fsync_all([lake.names_status])


def _marker_path(lake: Lake) -> Path:
    return lake.manifest_dir / "erased.json"


def _read_marker(lake: Lake) -> dict[str, Any]:
    try:
        data = json.loads(_marker_path(lake).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_marker(lake: Lake, marker: dict[str, Any], state: str) -> None:
    """``{"state", "erasures", "at"}``: changes the ``_etl`` folder the dashboard's caches compare."""
    if state == "running" and marker.get("state") != "running":
        marker["erasures"] = int(marker.get("erasures", 0)) + 1
    marker["state"] = state
    marker["at"] = datetime.now(UTC).isoformat()
    write_atomic(_marker_path(lake), json.dumps(marker, sort_keys=True).encode())
    fsync_all([_marker_path(lake)])


def _step(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)
    pause = os.environ.get(PAUSE_ENV)
    if pause:
        time.sleep(float(pause))


def forget_cached_answers(data_dir: Path) -> int:
    """Delete the dashboard's answers stored on disk (``run/dashboard-cache``): after an erase
    they are never served (see the module doc) but may still hold the person's trait values
    until overwritten. In-memory answers of running processes are dropped as they are replaced.
    Returns the number of files deleted."""
    folder = data_dir / "run" / "dashboard-cache"
    if not folder.is_dir():
        return 0
    count = sum(1 for p in folder.iterdir() if p.is_file())
    shutil.rmtree(folder, ignore_errors=True)
    return count


__all__ = [
    "LakeEraseReport",
    "erase_from_lake",
    "forget_cached_answers",
    "linked_ids",
    "person_events",
    "person_rollup_rows",
]
