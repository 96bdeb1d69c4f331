"""The dimension-day rollup the trends read: events per (project-tz day, person, event, dimensions).

A trend whose filters and breakdown read only derived dimensions, person traits or cohorts, and
whose series count events or unique users, needs of each event only its day, its person, its name
and those dimensions: the rollup keeps one row per distinct (day, actor_hash, event, tool_id,
dimensions) with its number of events (and the time of the first, for a per-event retention,
privacy/retention.py), and a second level of rows for the series of any event
(``every_event``: event and tool_id left out, so a person's day is one row per combination of
dimensions). On the issue's 50M-event lake a day of 555,000 events has 275,000 rows of the first
level and 71,000 of the second.

The dimensions kept are those with few values per person and day (where the user is, what they
run, where they came from); ``d_path`` and ``d_host`` change with every page and are left to the
events (a trend reading them reads the events). Files are sorted by level, event and day, so a
query's row groups are pruned on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from headwater.lake.derived import add_user_agents, agents_sql, by_state
from headwater.lake.layout import Lake
from headwater.lake.rollups.common import archive_files, backfill_recvs, copy_to_parquet
from headwater.lake.sql import file_list, parquet_sql, quote

#: derived dimension -> its column, for the dimensions the rollup keeps (``tool_id`` at the first
#: level only)
DIMENSIONS = {
    name: f"d_{name}"
    for name in (
        "country",
        "region",
        "browser",
        "os",
        "device_type",
        "library",
        "app_version",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "referrer_domain",
    )
}
_DIMS = ", ".join(DIMENSIONS.values())
#: the rollup's columns, in order
COLUMNS = f"every_event, day, actor_hash, event, tool_id, {_DIMS}, events, first_ts"


def received_rows(con: Any, lake: Lake, recv: date, read: Sequence[str] | None = None) -> str | None:
    """SELECT of the columns ``read`` (by default actor, ts, event, tool_id and the dimension
    columns) of the lake rows a received day contributed (its daily files and its rows in monthly
    archives); None: it has none. Rows of files written before the derived columns get theirs by
    the ETL's rules (their user agents described into the connection's table first)."""
    columns = ", ".join(read) if read is not None else f"actor, ts, event, tool_id, {_DIMS}"
    files = lake.files_of_received_day(recv)
    archives = archive_files(lake)
    for state, paths in by_state([*files, *archives]).items():
        if state != "new" and paths:
            read = f"read_parquet({file_list(paths)}, union_by_name = true)"
            add_user_agents(con, agents_sql(read, state))
    parts = [parquet_sql(files, columns)] if files else []
    if archives:
        where = f"recv_day = DATE {quote(recv.isoformat())}"
        parts.append(f"SELECT {columns} FROM ({parquet_sql(archives, columns + ', recv_day')}) WHERE {where}")
    return " UNION ALL ".join(f"({p})" for p in parts) if parts else None


def write_dimension_days(con: Any, lake: Lake, recv: date, tz: str) -> None:
    """The dimension-day rollup of one received day (module doc), days in the project's zone."""
    target = lake.dimension_days_file(recv)
    rows = received_rows(con, lake, recv)
    if rows is None:
        target.unlink(missing_ok=True)
        return
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE hw_dimension_days AS
            SELECT hw_day(ts, {quote(tz)}) AS day, hash(actor) AS actor_hash, event, tool_id, {_DIMS},
                   count(*)::BIGINT AS events, min(ts) AS first_ts
            FROM ({rows}) WHERE actor IS NOT NULL GROUP BY ALL"""
    )
    try:
        copy_to_parquet(
            con,
            f"""SELECT {COLUMNS} FROM (
                    SELECT false AS every_event, * FROM hw_dimension_days
                    UNION ALL
                    SELECT true, day, actor_hash, NULL, NULL, {_DIMS}, sum(events)::BIGINT, min(first_ts)
                    FROM hw_dimension_days GROUP BY ALL
                ) ORDER BY every_event DESC, event, day, actor_hash""",
            target,
        )
    finally:
        con.execute("DROP TABLE hw_dimension_days")


def rewrite_dimension_days(con: Any, lake: Lake, recv: date) -> None:
    """The rollup of a received day loaded earlier, in the zone its manifest says it was loaded in."""
    manifest = lake.read_manifest(recv) or {}
    write_dimension_days(con, lake, recv, str(manifest.get("project_tz") or "UTC"))


def backfill_dimension_days(con: Any, lake: Lake) -> list[date]:
    """The rollup of received days loaded before it existed; the days written."""
    return backfill_recvs(
        lake, lake.dimension_days_file, lambda recv: rewrite_dimension_days(con, lake, recv)
    )
