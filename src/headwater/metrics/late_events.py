"""Late events, for the data-health panel: events received on a later calendar day than the day
of their own timestamp, both days taken in the query's time zone.

Counted per event day over the query's range, over the deduplicated events (the lake, plus the
log not loaded yet, one row per messageId: the scope's own sources). An offline mobile client
sending yesterday's events today makes them late; so does a backfill (``headwater demo`` writes
its whole history at once, so all its events before today are late). A late event is missing
from the realtime counters of its day until the replay, and it changes batch answers of past
days after they were first computed.

A metric like the others (``GET /api/v1/metrics/late_events``); the dashboard's data-health panel
shows it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from headwater.lake.scope import Scope
from headwater.lake.sql import parquet_sql, quote


def late_events(scope: Scope) -> dict[str, Any]:
    """``{"rows": [{"date", "events", "late"}], "events", "late", "share"}`` over the scope's range."""
    rng = scope.rng
    lo, hi = scope.utc_bounds(rng.start, rng.end)
    # Parquet partitions are UTC dates: a day on either side covers every time zone's local days.
    files = scope.lake.event_files(rng.start - timedelta(days=1), rng.end + timedelta(days=1))
    cond = f"ts >= {lo} AND ts < {hi}"
    union = f"SELECT ts, received_at FROM pending WHERE {cond}"
    if files:
        union = f"{parquet_sql(files, 'ts, received_at')} WHERE {cond} UNION ALL {union}"
    tz = quote(rng.tz)
    found = {
        row[0]: (int(row[1]), int(row[2]))
        for row in scope.sql(f"""
            SELECT hw_day(ts, {tz}) AS day, count(*),
                   count(*) FILTER (WHERE hw_day(received_at, {tz}) > hw_day(ts, {tz}))
            FROM ({union}) GROUP BY day
        """)
    }
    counts = [(d, *found.get(d, (0, 0))) for d in rng.days()]
    events = sum(n for _, n, _ in counts)
    late = sum(n for _, _, n in counts)
    return {
        "rows": [{"date": d.isoformat(), "events": n, "late": k} for d, n, k in counts],
        "events": events,
        "late": late,
        "share": late / events if events else None,
    }
