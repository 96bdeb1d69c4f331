"""tool_usage_stats: events and unique users per UTC date, tool and event type."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from headwater.lake.layout import Lake
from headwater.lake.rollups.common import copy_to_parquet
from headwater.lake.rollups.identity import load_identity_map
from headwater.lake.sql import parquet_sql, quote


def write_tool_usage(
    con: Any, lake: Lake, dates: Sequence[date], own: str | None = None, own_files: Sequence[Path] = ()
) -> None:
    """tool_usage_stats(date, tool_id, event_type, count, users) for UTC dates, over the whole lake.

    One aggregate over the files of every date asked for (a received day of late or back-filled
    events touches many dates), then one small file per date from its result. ``own`` is a SELECT
    of the rows of ``own_files`` (the files the ETL has just written, still in memory): read from
    it instead. Events are first counted per actor, so the identity map is joined once per
    (date, tool, event, actor), not once per event."""
    load_identity_map(con, lake)
    present: list[date] = []
    files: list[Path] = []
    skip = set(own_files)
    for day in sorted(set(dates)):
        found = lake.event_files(day, day)
        if not found:
            (lake.tool_usage_dir / f"date={day.isoformat()}.parquet").unlink(missing_ok=True)
            continue
        present.append(day)
        files.extend(f for f in found if f not in files and f not in skip)
    if not present:
        return
    parts = [parquet_sql(files, "tool_id, event, actor, ts")] if files else []
    if own is not None:
        parts.append(f"SELECT tool_id, event, actor, ts FROM ({own})")
    if not parts:
        return
    wanted = ", ".join(f"DATE {quote(d.isoformat())}" for d in present)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE hw_tool_usage AS
            SELECT e.date, e.tool_id, e.event AS event_type, sum(e.n)::BIGINT AS count,
                   count(DISTINCT coalesce(m.user_id, e.actor)) AS users
            FROM (
                SELECT CAST(ts AS DATE) AS date, tool_id, event, actor, count(*) AS n
                FROM ({" UNION ALL ".join(parts)}) WHERE CAST(ts AS DATE) IN ({wanted}) GROUP BY ALL
            ) e LEFT JOIN idmap m ON m.key = e.actor
            GROUP BY ALL"""
    )
    for day in present:
        target = lake.tool_usage_dir / f"date={day.isoformat()}.parquet"
        copy_to_parquet(
            con,
            f"""SELECT date, tool_id, event_type, count, users FROM hw_tool_usage
                WHERE date = DATE {quote(day.isoformat())} ORDER BY count DESC""",
            target,
        )
    con.execute("DROP TABLE hw_tool_usage")
