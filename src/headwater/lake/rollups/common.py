"""What every rollup module shares: writing a query's result to a Parquet file atomically, and
the lake rows of a received day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from headwater.lake.layout import Lake
from headwater.lake.sql import parquet_sql, quote


def copy_to_parquet(con: Any, select: str, target: Path, row_group_size: int | None = None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    options = "FORMAT parquet, COMPRESSION zstd"
    if row_group_size is not None:
        options += f", ROW_GROUP_SIZE {int(row_group_size)}"
    con.execute(f"COPY ({select}) TO {quote(str(tmp))} ({options})")
    tmp.replace(target)


def copy_rows(
    con: Any,
    target: Path,
    rows_sql: str | None,
    select_of: Callable[[str], str],
    row_group_size: int | None = None,
) -> None:
    """A received day's rollup file from a SELECT of its lake rows; no rows (None): no file."""
    if rows_sql is None:
        target.unlink(missing_ok=True)
        return
    copy_to_parquet(con, select_of(rows_sql), target, row_group_size)


def read_one(path: Path) -> str:
    return f"read_parquet({quote(str(path))})"


def recv_of(path: Path) -> date:
    """The received day of a per-received-day rollup file (``recv=YYYYMMDD.parquet``)."""
    return date(int(path.stem[5:9]), int(path.stem[9:11]), int(path.stem[11:13]))


def user_days_recvs(lake: Lake) -> list[date]:
    if not lake.user_days_dir.is_dir():
        return []
    return [recv_of(p) for p in sorted(lake.user_days_dir.glob("recv=*.parquet"))]


def archive_files(lake: Lake) -> list[Path]:
    """The monthly archives' files, oldest month first."""
    return [lake.archive_file(y, m) for y, m in lake.archived_months()]


def received_rows_sql(lake: Lake, recv: date) -> str | None:
    """SELECT of the lake rows a received day contributed (its daily files and archived rows)."""
    files = lake.files_of_received_day(recv)
    archives = archive_files(lake)
    parts = [parquet_sql(files)] if files else []
    if archives:
        parts.append(f"{parquet_sql(archives)} WHERE recv_day = DATE {quote(recv.isoformat())}")
    return " UNION ALL BY NAME ".join(f"({p})" for p in parts) if parts else None


def backfill(con: Any, lake: Lake, file_of: Callable[[date], Path], write: Callable[..., None]) -> list[date]:
    """Write a rollup for the received days that have a user-day rollup but not this one (loaded
    before it existed), from their rows; the days written."""
    return backfill_recvs(lake, file_of, lambda recv: write(con, lake, recv, received_rows_sql(lake, recv)))


def backfill_recvs(lake: Lake, file_of: Callable[[date], Path], write: Callable[[date], None]) -> list[date]:
    """``write(recv)`` for the received days that have a user-day rollup but no ``file_of(recv)``."""
    todo = [r for r in user_days_recvs(lake) if not file_of(r).exists()]
    for recv in todo:
        write(recv)
    return todo
