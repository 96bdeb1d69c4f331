"""The (event, actor_hash, ts, tie) rollup the funnels and paths read, clustered by event."""

from __future__ import annotations

from datetime import date
from typing import Any

from headwater.lake.layout import Lake
from headwater.lake.rollups.common import backfill, copy_rows


def write_event_people(con: Any, lake: Lake, recv: date, rows_sql: str | None) -> None:
    """(event, actor_hash, ts, tie) of every event of a received day that belongs to someone,
    clustered by event: the funnel reads the rows of its step events only (the row groups of other
    events are skipped on their statistics), people as 64-bit hashes (no actor string to read or
    join; used only while the lake's names hash apart, see update_names).

    ``tie`` is the message id of an event that shares its instant with another event of the day
    (anyone's: the people an actor belongs to are only known at query time), NULL otherwise
    (nearly always: at 555,000 events a day in milliseconds, 0.6 % of the rows have it, and
    it costs almost nothing to keep). The walks of paths order a person's events by (ts,
    message_id); ordered by (ts, tie), two events at one instant are in that order when both have
    their tie, and a query that meets two at one instant without (received on different days, or
    in a file written before the column) reads the events instead (insights/paths_walk.py)."""
    copy_rows(
        con,
        lake.event_people_file(recv),
        rows_sql,
        lambda rows: (
            f"""SELECT event, hash(actor) AS actor_hash, ts,
                       CASE WHEN count(*) OVER (PARTITION BY ts) > 1 THEN message_id END AS tie
                FROM ({rows}) WHERE actor IS NOT NULL ORDER BY event"""
        ),
    )


def backfill_event_people(con: Any, lake: Lake) -> list[date]:
    """The rollup of received days loaded before it existed."""
    return backfill(con, lake, lake.event_people_file, write_event_people)
