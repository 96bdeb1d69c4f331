"""The user-day rollup: (project-tz day, actor, events, first, last, actor_hash) per received day."""

from __future__ import annotations

from datetime import date
from typing import Any

from headwater.lake.layout import Lake
from headwater.lake.rollups.common import copy_rows
from headwater.lake.sql import quote


def user_days_sql(events_sql: str, tz: str) -> str:
    """(day in tz, actor, events, first_ts, last_ts, actor_hash) from a SELECT of event rows.

    ``actor_hash`` (64-bit ``hash(actor)``) lets the metrics count people on integers; it is used
    only while the lake's names are known to hash without a collision (``names_ok``)."""
    return f"""
        SELECT day, actor, events, first_ts, last_ts, hash(actor) AS actor_hash FROM (
            SELECT hw_day(ts, {quote(tz)}) AS day, actor, count(*) AS events, min(ts) AS first_ts,
                   max(ts) AS last_ts
            FROM ({events_sql}) WHERE actor IS NOT NULL GROUP BY ALL
        )
    """


#: rows per row group of a user-day file. Sorted by day then actor, a group spans a narrow range
#: of actors, so a timeline's read of one person's rows (people/activity.py) skips the others:
#: 20 files of a 50M lake (77,000 rows each) in 21-22 ms instead of 31-45 ms as one group each;
#: the files 2 % larger
ROW_GROUP = 8_192


def write_user_days(con: Any, lake: Lake, recv: date, rows_sql: str | None, tz: str) -> None:
    """The user-day rollup of one received day, from a SELECT of its lake rows (None: no rows)."""
    order = " ORDER BY day, actor"
    copy_rows(
        con, lake.user_days_file(recv), rows_sql, lambda rows: user_days_sql(rows, tz) + order, ROW_GROUP
    )
