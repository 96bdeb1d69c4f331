"""Upgrading a lake written before the derived columns: every event file (daily file or monthly
archive) that lacks them on some rows is rewritten with them (lake/derived.py; docs/insights.md,
"Upgrading a lake": ``headwater etl upgrade``).

Under the ETL's lock (no ETL, archive or erase writes meanwhile), each file is rewritten alone:

- the same rows in the same order (``preserve_insertion_order`` and an ORDER BY the row's number in
  the file: the user agents' join does not keep the order by itself), every other column as it was
  (read with ``hive_partitioning = false``: a file's own columns only), the same compression (zstd,
  level 1 for a daily file as the ETL writes it, the default level and row-group size of the
  archive for an archive);
- the rows that lack the columns get them by the ETL's rules (the user agents described once, for
  the whole run), ``d_version`` 1 on every row;
- written to ``.<name>.upgrade.tmp`` beside it, fsynced, renamed over it, the folder fsynced: a kill
  at any moment leaves the old file or the new one, whole, and the temporary file, which the next
  run (or the next erase) removes first (erase_files.remove_strays).

A file whose footer says every row has the columns is left alone: a second run rewrites nothing.

The (event, actor_hash, ts, tie) rollup of a received day written before its ``tie`` column
(lake/rollups/event_people.py: paths walk it, and read the events when a person has two events at
one instant without ties) is written again from the day's rows, as the ETL writes it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from headwater.batch.archive import ROW_GROUP_SIZE
from headwater.batch.etl import DAILY_ZSTD_LEVEL, etl_lock
from headwater.lake.derived import MARK, add_user_agents, agents_sql, completed_sql, file_state
from headwater.lake.erase_files import fsync_dir, fsync_file, remove_strays, row_group_rows
from headwater.lake.layout import Lake, LakeError
from headwater.lake.sql import connect, quote

TMP_SUFFIX = ".upgrade.tmp"
#: Test hook: seconds to sleep after writing a file's temporary copy, before its rename, so a test
#: can kill a run there.
PAUSE_ENV = "HEADWATER_TEST_UPGRADE_PAUSE_SECONDS"

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Todo:
    """An event file to rewrite: its state (old or mixed), rows, and rows lacking the columns."""

    path: Path
    state: str
    rows: int
    lacking: int
    archive: bool
    size: int


@dataclass(slots=True)
class UpgradeReport:
    dry_run: bool
    files_scanned: int
    files_rewritten: int  # with dry_run: that would be
    rows_rewritten: int  # the rows of those files
    rows_computed: int  # of which the rows that lacked the columns
    bytes_before: int
    bytes_after: int | None = None  # None with dry_run
    files: list[str] = field(default_factory=list)  # relative to the lake
    rollups_rewritten: int = 0  # event_people files without ``tie`` (with dry_run: that would be)
    strays_removed: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan(lake: Lake) -> tuple[int, list[Todo]]:
    """The event files to rewrite (from their footers only), and how many were looked at."""
    import pyarrow.parquet as pq

    files = lake.event_files()
    todo = []
    for path in files:
        state = file_state(path)
        if state == "new":
            continue
        try:
            size = path.stat().st_size
            meta = pq.read_metadata(path)
        except FileNotFoundError:  # replaced meanwhile (a dry run takes no lock): by a new one
            continue
        except (OSError, ValueError) as exc:
            raise LakeError(f"unreadable lake file {path}: {exc}") from exc
        lacking = meta.num_rows if state == "old" else _nulls(meta, meta.schema.names.index(MARK))
        archive = path.parent.parent == lake.archive_dir
        todo.append(Todo(path, state, meta.num_rows, lacking, archive, size))
    return len(files), todo


def untied(lake: Lake) -> list[Path]:
    """The event_people rollup files written before the ``tie`` column (their footers)."""
    import pyarrow.parquet as pq

    folder = lake.event_people_dir
    files = sorted(folder.glob("recv=*.parquet")) if folder.is_dir() else []
    return [p for p in files if "tie" not in pq.read_schema(p).names]


def _write_ties(con: Any, lake: Lake, files: list[Path]) -> None:
    from headwater.lake.rollups.common import received_rows_sql, recv_of
    from headwater.lake.rollups.event_people import write_event_people

    for path in files:
        write_event_people(con, lake, recv_of(path), received_rows_sql(lake, recv_of(path)))


def upgrade_hint(lake: Lake) -> str | None:
    """One line saying how many event files lack the derived columns on some rows and what to run,
    None when none does (footers only, cached per file): what ``headwater etl daily`` prints."""
    files = lake.event_files()
    old = sum(1 for p in files if file_state(p) != "new")
    if not old:
        return None
    return (
        f"{old} of {len(files)} event files of the lake were written before the derived columns (slower"
        " web analytics and derived insights): `headwater etl upgrade` rewrites them once"
        ' (docs/insights.md, "Upgrading a lake")'
    )


def upgrade_lake(
    lake: Lake, dry_run: bool = False, progress: Progress | None = None, memory_limit: str = "1GB"
) -> UpgradeReport:
    """Rewrite every old or mixed event file with the derived columns (see the module doc);
    ``dry_run``: only count. ``progress(files_done, files_total)`` after each file."""
    started = time.monotonic()
    if dry_run:  # reads footers only: no lock, nothing written
        report = _report(lake, plan(lake), dry_run=True)
        report.rollups_rewritten = len(untied(lake))
        report.seconds = round(time.monotonic() - started, 3)
        return report
    with etl_lock(lake):
        strays = remove_strays(lake.root)  # a killed run's temporaries: their originals are whole
        scanned, todo = plan(lake)
        report = _report(lake, (scanned, todo), dry_run=False)
        report.strays_removed = len(strays)
        if progress is not None:
            progress(0, len(todo))
        rollups = untied(lake)
        report.rollups_rewritten = len(rollups)
        if todo or rollups:
            con = connect(lake.tmp_dir, memory_limit)
            con.execute("SET preserve_insertion_order = true")
            try:
                for i, item in enumerate(todo, 1):
                    _rewrite(con, item)
                    if progress is not None:
                        progress(i, len(todo))
                _write_ties(con, lake, rollups)  # after the event files: from their rows as they are now
            finally:
                con.close()
        report.bytes_after = sum(item.path.stat().st_size for item in todo)
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _report(lake: Lake, planned: tuple[int, list[Todo]], dry_run: bool) -> UpgradeReport:
    scanned, todo = planned
    return UpgradeReport(
        dry_run=dry_run,
        files_scanned=scanned,
        files_rewritten=len(todo),
        rows_rewritten=sum(t.rows for t in todo),
        rows_computed=sum(t.lacking for t in todo),
        bytes_before=sum(t.size for t in todo),
        files=[str(t.path.relative_to(lake.root)) for t in todo],
    )


def temp_of(path: Path) -> Path:
    return path.with_name(f".{path.name}{TMP_SUFFIX}")


def _rewrite(con: Any, item: Todo) -> None:
    """Replace one file by a copy with the derived columns on every row (module doc)."""
    tmp = temp_of(item.path)
    read = f"read_parquet({quote(str(item.path))}, hive_partitioning = false, file_row_number = true)"
    add_user_agents(con, agents_sql(read, item.state))
    options = "FORMAT parquet, COMPRESSION zstd"
    options += (
        f", ROW_GROUP_SIZE {ROW_GROUP_SIZE}" if item.archive else f", COMPRESSION_LEVEL {DAILY_ZSTD_LEVEL}"
    )
    size = None if item.archive else row_group_rows(item.path)
    if size:  # a daily file keeps its row groups' size (and its rows' order, below)
        options += f", ROW_GROUP_SIZE {size}"
    try:
        con.execute(
            f"COPY (SELECT * EXCLUDE (file_row_number) FROM ({completed_sql(read, item.state)})"
            f" ORDER BY file_row_number) TO {quote(str(tmp))} ({options})"
        )
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in ("duckdb", "_duckdb"):
            tmp.unlink(missing_ok=True)
            raise LakeError(f"{item.path} could not be upgraded: {exc}") from exc
        raise
    fsync_file(tmp)
    pause = float(os.environ.get(PAUSE_ENV) or 0)
    if pause:
        time.sleep(pause)
    os.replace(tmp, item.path)
    fsync_dir(item.path.parent)


def _nulls(meta: Any, column: int) -> int:
    """Rows whose column is NULL, from the row groups' statistics (every row when one has none)."""
    total = 0
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        stats = group.column(column).statistics
        if stats is None or not stats.has_null_count:
            total += group.num_rows
        else:
            total += int(stats.null_count)
    return total
