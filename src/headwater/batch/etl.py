"""Daily ETL: the log files received on a UTC day -> Parquet partitioned by event date.

Re-running a day replaces what that day wrote (files are named after the received day) and a
messageId already in the lake from another received day is skipped, so the lake holds each
message exactly once whatever the order or number of runs. See docs/analytics.md. The day's
OpenRTB decision log is loaded too (headwater.batch.decisions, docs/targeting.md).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from headwater.batch.decisions import decision_sizes, load_decisions, pending_decision_days
from headwater.lake.derived import COLUMNS as DERIVED_COLUMNS
from headwater.lake.derived import MARK as DERIVED_MARK
from headwater.lake.derived import add_user_agents, etl_select
from headwater.lake.layout import Lake, LakeError, complete_lines, log_sizes
from headwater.lake.rollups.dimension_days import backfill_dimension_days, write_dimension_days
from headwater.lake.rollups.event_people import backfill_event_people, write_event_people
from headwater.lake.rollups.identity import rebuild_identity_map, write_links
from headwater.lake.rollups.names import update_names
from headwater.lake.rollups.person_days import missing_person_days, write_person_days
from headwater.lake.rollups.sessions import backfill_sessions, write_sessions
from headwater.lake.rollups.tool_usage import write_tool_usage
from headwater.lake.rollups.traits import write_traits
from headwater.lake.rollups.user_days import write_user_days
from headwater.lake.rollups.visits import backfill_visits, write_visits
from headwater.lake.sql import (
    EVENT_COLUMNS,
    connect,
    file_list,
    json_events_sql,
    parquet_sql,
    quote,
    size_bytes,
)
from headwater.log.files import list_log_files

#: A date holding at least 1/BIG_DATE_SHARE of a received day's rows is written by a COPY of its own.
BIG_DATE_SHARE = 20
#: zstd level of the daily files: level 1 writes a 2M-event day about 30 % faster than the default
#: (3) for 3 % more bytes; the monthly archive recompresses at the default level.
DAILY_ZSTD_LEVEL = 1
#: The daily files are written sorted by actor, then time, in row groups of this many rows: a
#: person's events of a date sit in one or two row groups, which the Parquet statistics of the
#: actor column let a timeline read alone (people/timeline.py) instead of decoding the properties
#: and context of every row group holding one of their events. Whole-date scans read the same rows.
DAILY_ROW_GROUP = 16_384
DAILY_ORDER = "actor, ts"
#: A day's log bigger than this (None: the memory limit) is loaded into a DuckDB file, not memory.
TABLE_IN_FILE_ABOVE: int | None = None


@dataclass(slots=True)
class EtlResult:
    received_day: str
    files: dict[str, int]
    rows_in: int = 0
    rows_out: int = 0
    duplicates: int = 0
    event_dates: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None
    decisions: dict[str, Any] | None = None  # the day's decision log load (None: no decision file)
    #: rollup -> received days loaded before it existed, written by this run from their rows
    backfilled: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def etl_lock(lake: Lake, wait: bool = True) -> Iterator[bool]:
    """One ETL at a time per lake (server scheduler, cron, CLI); yields False if busy and not waiting."""
    lake.root.mkdir(parents=True, exist_ok=True)
    fd = os.open(lake.root / ".etl.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def run_daily(
    data_dir: Path,
    recv: date,
    project_tz: str,
    memory_limit: str = "1GB",
    threads: int = 2,
    log_dir: Path | None = None,
) -> EtlResult:
    """Load one received day: its event log, then its decision log. Raises LakeError when the day
    has neither and its events were never loaded. ``log_dir``: where the day's files are (default
    ``data/log``; in a cluster, a folder holding every host's files of the day)."""
    lake = Lake(data_dir / "lake")
    log_dir = data_dir / "log" if log_dir is None else log_dir
    with etl_lock(lake):
        events_known = bool(log_sizes(log_dir, recv)) or lake.read_manifest(recv) is not None
        if events_known or not decision_sizes(log_dir, recv):
            result = _run_locked(lake, log_dir, recv, project_tz, memory_limit, threads)
        else:
            result = EtlResult(recv.isoformat(), {}, skipped="no event log files this day (decisions only)")
        result.decisions = load_decisions(lake, log_dir, recv, memory_limit, threads)
        return result


def _run_locked(
    lake: Lake, log_dir: Path, recv: date, project_tz: str, memory_limit: str, threads: int
) -> EtlResult:
    started = time.monotonic()
    sizes = log_sizes(log_dir, recv)
    result = EtlResult(received_day=recv.isoformat(), files=sizes)
    manifest = lake.read_manifest(recv)
    if not sizes:
        if manifest is not None:
            result.skipped = "the raw log of this day is gone (retention); the lake keeps its data"
            return result
        raise LakeError(f"no event log files were received on {recv} (UTC) in {log_dir}")
    stage = lake.tmp_dir / f"etl-{recv:%Y%m%d}-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    paths, loaded = complete_lines(
        [lf.path for lf in list_log_files(log_dir, "events") if lf.name in sizes], stage
    )
    result.files = loaded  # what was read: a line still being written is left for the next run
    con = connect(lake.tmp_dir, memory_limit, threads)
    try:
        out_dir = stage / "out"
        dates: list[str] = []
        if paths:
            result.rows_in, result.rows_out, dates = _load(
                con, lake, recv, paths, stage, out_dir, memory_limit
            )
        result.duplicates = result.rows_in - result.rows_out
        result.event_dates = _publish(lake, recv, out_dir)
        own = _own_rows_sql(lake, recv, dates, loaded=bool(paths))
        write_user_days(con, lake, recv, own, project_tz)
        write_traits(con, lake, recv, own, project_tz)
        write_links(con, lake, recv, own)
        rebuild_identity_map(con, lake)
        update_names(con, lake, [recv])
        write_person_days(con, lake, sorted({recv, *missing_person_days(lake)}))
        write_event_people(con, lake, recv, own)
        backfilled = {"event_people": backfill_event_people(con, lake)}
        write_sessions(con, lake, recv, own)
        backfilled["sessions"] = backfill_sessions(con, lake)
        write_dimension_days(con, lake, recv, project_tz)
        backfilled["dimension_days"] = backfill_dimension_days(con, lake)
        write_visits(con, lake, recv)
        backfilled["visits"] = backfill_visits(con, lake)
        result.backfilled = {k: [d.isoformat() for d in v] for k, v in backfilled.items() if v}
        touched = {date.fromisoformat(d) for d in dates}
        own_rows = "SELECT tool_id, event, actor, ts FROM own" if paths else None
        write_tool_usage(
            con, lake, sorted(touched), own_rows, lake.files_of_received_day(recv) if paths else ()
        )
    finally:
        con.close()
        shutil.rmtree(stage, ignore_errors=True)
    result.seconds = round(time.monotonic() - started, 3)
    lake.write_manifest(
        recv,
        {**result.as_dict(), "project_tz": project_tz, "finished_at": datetime.now(UTC).isoformat()},
    )
    return result


def _load(
    con: Any, lake: Lake, recv: date, paths: list[Path], stage: Path, out_dir: Path, memory_limit: str
) -> tuple[int, int, list[str]]:
    """JSON Lines -> deduplicated Parquet partitioned by event date under out_dir: (in, out, dates).

    The log is parsed once, into the table ``own``; duplicates are deleted from it, and a COPY per
    date writes the files. ``own`` then holds exactly the rows written, for the rollups.

    A day whose log is bigger than the memory limit would have its in-memory temp table spilled to
    disk as it is (9 GB for 20M events); such a day's table goes to a DuckDB file in the stage
    folder instead, written compressed (0.9 GB for the same day), and ``own`` is a view of it.
    """
    table = "own"
    above = size_bytes(memory_limit) if TABLE_IN_FILE_ABOVE is None else TABLE_IN_FILE_ABOVE
    if sum(p.stat().st_size for p in paths) > above:
        con.execute(f"ATTACH {quote(str(stage / 'own.duckdb'))} AS stage_db")
        table = "stage_db.own"
    con.execute(
        f"""CREATE {"TEMP " if table == "own" else ""}TABLE {table} AS
            SELECT *, DATE {quote(recv.isoformat())} AS recv_day, CAST(ts AS DATE) AS date
            FROM ({json_events_sql(paths)})
            WHERE message_id IS NOT NULL AND ts IS NOT NULL"""
    )
    if table != "own":
        con.execute(f"CREATE TEMP VIEW own AS SELECT * FROM {table}")
    rows_in = _count(con, "SELECT count(*) FROM own")
    con.execute(f"DELETE FROM {table} WHERE rowid IN ({_later_copies_sql(table)})")
    dates = [str(r[0]) for r in con.execute("SELECT DISTINCT date FROM own ORDER BY 1").fetchall()]
    others = _other_files(lake, recv, dates)
    if others:
        con.execute(
            f"DELETE FROM {table} WHERE message_id IN"
            f" (SELECT message_id FROM ({parquet_sql(others, 'message_id')}))"
        )
    return rows_in, _write_dates(con, out_dir), dates


def _write_dates(con: Any, out_dir: Path) -> int:
    """Write ``own`` as one Parquet file per event date under ``out_dir/date=D/``, with the derived
    dimensions (lake/derived.py) computed at the write; the row count.

    A received day's events fall nearly all on one or two dates: each of those is written by its own
    COPY (a filtered scan of the temp table), which costs far less than PARTITION_BY's repartitioning
    of every row; the few late events spread over other dates go through one partitioned COPY.
    """
    counts = [(str(d), n) for d, n in con.execute("SELECT date, count(*) FROM own GROUP BY date").fetchall()]
    total = sum(int(n) for _, n in counts)
    big = sorted(d for d, n in counts if int(n) * BIG_DATE_SHARE >= total)
    columns = f"{', '.join(EVENT_COLUMNS)}, recv_day, {', '.join(DERIVED_COLUMNS)}, {DERIVED_MARK}"
    options = f"FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL {DAILY_ZSTD_LEVEL}"
    options += f", ROW_GROUP_SIZE {DAILY_ROW_GROUP}"
    # the derived dimensions (lake/derived.py), each user agent of the day described once
    add_user_agents(con, "SELECT DISTINCT context->>'/userAgent' FROM own")
    rows = f"({etl_select('SELECT * FROM own')})"
    if len(big) < len(counts):
        rest = f"WHERE date NOT IN ({', '.join(f'DATE {quote(d)}' for d in big)})" if big else ""
        con.execute(
            f"COPY (SELECT {columns}, date FROM {rows} {rest} ORDER BY {DAILY_ORDER})"
            f" TO {quote(str(out_dir))} ({options}, PARTITION_BY (date))"
        )
    for day in big:
        target = out_dir / f"date={day}"
        target.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"COPY (SELECT {columns} FROM {rows} WHERE date = DATE {quote(day)} ORDER BY {DAILY_ORDER})"
            f" TO {quote(str(target / 'data.parquet'))} ({options})"
        )
    return total


def _later_copies_sql(table: str) -> str:
    """Row ids of every copy of a messageId but the first received. The window runs over the
    duplicated ids only, found by an aggregate over 64-bit hashes (most days have few duplicates;
    a hash collision only brings a unique id into the exact window, where it stays)."""
    return f"""
        SELECT rid FROM (
            SELECT rowid AS rid, row_number() OVER (
                PARTITION BY message_id ORDER BY received_at, ts, rowid) AS n
            FROM {table}
            WHERE hash(message_id) IN (
                SELECT hash(message_id) AS h FROM {table} GROUP BY h HAVING count(*) > 1)
        ) WHERE n > 1
    """


def _count(con: Any, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _other_files(lake: Lake, recv: date, dates: list[str]) -> list[Path]:
    """Lake files that may already hold these messages: neighbouring dates, other received days."""
    if not dates:
        return []
    # a day on each side, within what a date holds (a client may send any year from 1 to 9999)
    first = max(date.fromisoformat(dates[0]), date.min + timedelta(days=1)) - timedelta(days=1)
    last = min(date.fromisoformat(dates[-1]), date.max - timedelta(days=1)) + timedelta(days=1)
    own = set(lake.files_of_received_day(recv))
    return [p for p in lake.event_files(first, last) if p not in own]


def _own_rows_sql(lake: Lake, recv: date, dates: list[str], loaded: bool) -> str | None:
    """SELECT of every lake row this received day contributed: the rows just written (still in the
    temp table ``own`` when ``loaded``), plus its rows already compacted into a monthly archive (a
    re-run after archiving only adds what is new)."""
    parts = []
    if loaded:
        parts.append(f"SELECT {', '.join(EVENT_COLUMNS)}, recv_day FROM own")
    if dates:
        first, last = date.fromisoformat(dates[0]), date.fromisoformat(dates[-1])
        archives = [p for p in lake.event_files(first, last) if p.parent.parent == lake.archive_dir]
        if archives:
            parts.append(f"{parquet_sql(archives)} WHERE recv_day = DATE {quote(recv.isoformat())}")
    if not parts:
        return None
    return " UNION ALL BY NAME ".join(f"({p})" for p in parts)


def _publish(lake: Lake, recv: date, out_dir: Path) -> list[str]:
    """Replace this received day's files in the lake with the new ones."""
    for old in lake.files_of_received_day(recv):
        old.unlink()
    written: list[str] = []
    if not out_dir.is_dir():
        return written
    for part in sorted(out_dir.iterdir()):
        day = part.name.removeprefix("date=")
        target_dir = lake.date_dir(date.fromisoformat(day))
        target_dir.mkdir(parents=True, exist_ok=True)
        for i, src in enumerate(sorted(part.glob("*.parquet"))):
            suffix = "" if i == 0 else f".{i}"
            os.replace(src, target_dir / f"recv-{recv:%Y%m%d}{suffix}.parquet")
        written.append(day)
    return written


def days_to_load(data_dir: Path, today_utc: date) -> list[date]:
    """Complete received days (before today, UTC) whose event or decision log is not in the lake
    yet or has grown."""
    from headwater.lake.layout import pending_days

    lake, log_dir = Lake(data_dir / "lake"), data_dir / "log"
    days = set(pending_days(lake, log_dir)) | set(pending_decision_days(lake, log_dir))
    return sorted(d for d in days if d < today_utc)


__all__ = ["EtlResult", "days_to_load", "etl_lock", "file_list", "run_daily"]
