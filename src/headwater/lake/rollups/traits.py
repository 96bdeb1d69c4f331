"""The trait rollup: each actor's latest value of every trait key per day."""

from __future__ import annotations

from datetime import date
from typing import Any

from headwater.lake.layout import Lake
from headwater.lake.rollups.common import copy_rows
from headwater.lake.sql import JSON_KEY_SQL, quote


def traits_sql(events_sql: str, tz: str) -> str:
    """(day in tz, actor, key, ts, value): per actor, day and trait key, the latest value the actor's
    events carried, in ``traits`` or else ``context.traits`` exactly as the preferences metric reads
    one key (``coalesce(traits->>key, context->'traits'->>key)``), and when (``ts``).

    Events are first grouped by their day, actor and the texts of both trait objects (an actor's
    events mostly repeat the same traits), keeping the latest time: the keys and values are then
    parsed once per group instead of once per event. A key is read as a key, never as a JSON path
    (``$.x``, ``a.b`` and ``/p`` are keys like any other)."""
    path = JSON_KEY_SQL.format("key")
    keys = """list_distinct(list_concat(
        CASE WHEN json_type(traits) = 'OBJECT' THEN json_keys(traits) ELSE [] END,
        CASE WHEN json_type(ct) = 'OBJECT' THEN json_keys(ct) ELSE [] END))"""
    return f"""
        SELECT day, actor, key, max(ts) AS ts, arg_max(value, ts) AS value FROM (
            SELECT day, actor, ts, key, coalesce(traits->>{path}, ct->>{path}) AS value FROM (
                SELECT day, actor, ts, traits, ct, unnest({keys}) AS key FROM (
                    SELECT hw_day(ts, {quote(tz)}) AS day, actor, traits, context->'traits' AS ct,
                           max(ts) AS ts
                    FROM ({events_sql})
                    WHERE actor IS NOT NULL AND (traits IS NOT NULL OR context IS NOT NULL)
                    GROUP BY ALL
                ) WHERE traits IS NOT NULL OR ct IS NOT NULL
            )
        ) WHERE value IS NOT NULL GROUP BY day, actor, key
    """


def write_traits(con: Any, lake: Lake, recv: date, rows_sql: str | None, tz: str) -> None:
    """The trait rollup of one received day (see traits_sql), from a SELECT of its lake rows."""
    copy_rows(
        con, lake.traits_file(recv), rows_sql, lambda rows: traits_sql(rows, tz) + " ORDER BY key, actor, day"
    )
