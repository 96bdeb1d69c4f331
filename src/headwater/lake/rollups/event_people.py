"""The (event, actor_hash, ts) rollup the funnel reads, clustered by event."""

from __future__ import annotations

from datetime import date
from typing import Any

from headwater.lake.layout import Lake
from headwater.lake.rollups.common import backfill, copy_rows


def write_event_people(con: Any, lake: Lake, recv: date, rows_sql: str | None) -> None:
    """(event, actor_hash, ts) of every event of a received day that belongs to someone, clustered
    by event: the funnel reads the rows of its step events only (the row groups of other events are
    skipped on their statistics), people as 64-bit hashes (no actor string to read or join; used
    only while the lake's names hash apart, see update_names)."""
    copy_rows(
        con,
        lake.event_people_file(recv),
        rows_sql,
        lambda rows: (
            f"""SELECT event, hash(actor) AS actor_hash, ts FROM ({rows})
            WHERE actor IS NOT NULL ORDER BY event"""
        ),
    )


def backfill_event_people(con: Any, lake: Lake) -> list[date]:
    """The (event, aid, ts) rollup of received days loaded before it existed."""
    return backfill(con, lake, lake.event_people_file, write_event_people)
