"""Sessions: a new session after 30 minutes without events or once a session is 24 hours old; a
session is never split at midnight and belongs to the day (in the query's time zone) it started."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from headwater.events.sessions import (
    INACTIVITY_SECONDS,
    INACTIVITY_US,
    MAX_LENGTH_SECONDS,
    split_sessions,
)
from headwater.lake.scope import Scope
from headwater.lake.sql import quote
from headwater.lake.time_order import latest_ends, time_order

#: Events this long before the range are read so a session running into the range starts right.
LOOKBACK_DAYS = 2


#: The rule's two spans as DuckDB intervals (headwater.events.sessions owns the rule).
GAP_SQL = f"INTERVAL {INACTIVITY_SECONDS} SECOND"
MAX_LENGTH_SQL = f"INTERVAL {MAX_LENGTH_SECONDS} SECOND"


def _build(scope: Scope) -> None:
    """Temp table sessions(person, start_ts, end_ts, events) covering the lookback and the range."""
    rng = scope.rng
    # A session that starts on the last day may run for up to 24 hours into the next one.
    first, last = rng.start - timedelta(days=LOOKBACK_DAYS), rng.end + timedelta(days=1)
    # People as integers when the lake allows (see Scope.person_events): only counted, never shown.
    runs = scope.session_runs(first, last)
    if runs is not None:
        _merge_runs(scope, runs)
        # Only the people with a session of 24 hours or more need their events, to cut it, and only
        # over the span of those sessions (none: the events are not read at all).
        span = scope.sql(
            f"SELECT min(start_ts), max(end_ts) FROM gap_sessions WHERE end_ts - start_ts >= {MAX_LENGTH_SQL}"
        )[0]
        where = "false"
        if span[0] is not None:
            lo, hi = (f"TIMESTAMPTZ {quote(t.isoformat())}" for t in span)
            where = f"ts >= {lo} AND ts <= {hi}"
        events = scope.person_events(first, last, "", where)
        scope.sql(
            f"""CREATE OR REPLACE TEMP TABLE session_events AS SELECT person, ts FROM ({events})
                WHERE person IN (SELECT person FROM gap_sessions
                                 WHERE end_ts - start_ts >= {MAX_LENGTH_SQL})"""
        )
    else:
        _gap_sessions_from_events(scope, scope.person_events(first, last, ""))


def _gap_sessions_from_events(scope: Scope, events: str) -> None:
    """Temp tables session_events(person, ts) and gap_sessions(person, gid, start_ts, end_ts, events):
    runs of each person's events without a gap of more than 30 minutes."""
    scope.sql(f"CREATE OR REPLACE TEMP TABLE session_events AS SELECT person, ts FROM ({events})")
    scope.sql(
        f"""
        CREATE OR REPLACE TEMP TABLE gap_sessions AS
        WITH e AS (SELECT person, ts FROM session_events),
        g AS (
            SELECT person, ts, CASE WHEN lag(ts) OVER w IS NULL OR ts - lag(ts) OVER w > {GAP_SQL}
                                    THEN 1 ELSE 0 END AS brk
            FROM e WINDOW w AS (PARTITION BY person ORDER BY ts)
        ),
        s AS (SELECT person, ts,
                     sum(brk) OVER (PARTITION BY person ORDER BY ts ROWS UNBOUNDED PRECEDING) AS gid
              FROM g)
        SELECT person, gid, min(ts) AS start_ts, max(ts) AS end_ts, count(*) AS events
        FROM s GROUP BY person, gid
        """
    )


def _merge_runs(scope: Scope, runs: str) -> None:
    """gap_sessions from the session rollup's runs (per actor and received day): a person's runs,
    in order of start, belong to one session exactly when each starts at most 30 minutes after the
    latest end before it (the runs of the union of their events).

    In numpy: people numbered by hashing, the runs ordered by person then start (time_order), and
    the latest end before each run a running maximum that starts again at each person
    (time_order.latest_ends: keys ``person * span + end`` per block of people small enough for 62
    bits; one block for all would overflow past about a million people in 90 days)."""
    import numpy as np
    import pyarrow as pa

    cols = scope.numpy(
        f"SELECT person, epoch_us(start_ts) AS s, epoch_us(end_ts) AS e, events AS n FROM ({runs})"
    )
    person, start, end, events = cols["person"], cols["s"], cols["e"], cols["n"]
    if len(person) == 0:
        table = pa.table(
            {
                "person": pa.array([], pa.uint64()),
                "start_ts": pa.array([], pa.int64()),
                "end_ts": pa.array([], pa.int64()),
                "events": pa.array([], pa.int64()),
            }
        )
    else:
        ids, order, _, _ = time_order(person, start, end)
        owner = np.asarray(person)[order]
        ids, start, end, events = ids[order], start[order], end[order], events[order]
        latest = latest_ends(ids, end)
        brk = np.empty(len(ids), dtype=bool)
        brk[0] = True
        brk[1:] = (ids[1:] != ids[:-1]) | (start[1:] - latest[:-1] > INACTIVITY_US)
        firsts = np.flatnonzero(brk)
        table = pa.table(
            {
                "person": pa.array(owner[firsts], pa.uint64()),
                "start_ts": pa.array(start[firsts], pa.int64()),
                "end_ts": pa.array(np.maximum.reduceat(end, firsts), pa.int64()),
                "events": pa.array(np.add.reduceat(events, firsts).astype(np.int64), pa.int64()),
            }
        )
    scope.con.register("hw_merged_runs", table)
    try:
        scope.sql(
            """CREATE OR REPLACE TEMP TABLE gap_sessions AS
               SELECT person, row_number() OVER () AS gid, make_timestamptz(start_ts) AS start_ts,
                      make_timestamptz(end_ts) AS end_ts, events
               FROM hw_merged_runs"""
        )
    finally:
        scope.con.unregister("hw_merged_runs")


def _cut_long_sessions(scope: Scope) -> None:
    """Temp table sessions from gap_sessions, the runs of 24 hours or more cut by the exact rule."""
    # Sessions of over 24 hours (rare) are cut by the exact rule in Python.
    long = scope.sql(
        f"""
        SELECT g.person, g.gid, e.ts FROM session_events e
        JOIN gap_sessions g ON e.person = g.person AND e.ts BETWEEN g.start_ts AND g.end_ts
        WHERE g.end_ts - g.start_ts >= {MAX_LENGTH_SQL} ORDER BY g.person, g.gid, e.ts
        """
    )
    scope.sql(
        "CREATE OR REPLACE TEMP TABLE long_split AS"
        " SELECT person, start_ts, end_ts, events FROM gap_sessions LIMIT 0"
    )
    groups: dict[tuple[Any, int], list[datetime]] = {}
    for person, gid, ts in long:
        groups.setdefault((person, gid), []).append(ts)
    for (person, _), times in groups.items():
        for start, end, n in split_sessions(times):
            scope.con.execute("INSERT INTO long_split VALUES (?, ?, ?, ?)", [person, start, end, n])
    scope.sql(
        f"""
        CREATE OR REPLACE TEMP TABLE sessions AS
        SELECT person, start_ts, end_ts, events FROM gap_sessions
        WHERE end_ts - start_ts < {MAX_LENGTH_SQL}
        UNION ALL SELECT * FROM long_split
        """
    )


def sessions(scope: Scope) -> dict[str, Any]:
    """Per day: sessions started, users, sessions per user, median and p90 length (seconds), events."""
    _build(scope)
    _cut_long_sessions(scope)
    tz = quote(scope.tz)
    rows = scope.sql(
        f"""
        SELECT hw_day(start_ts, {tz}) AS day, count(*) AS n, count(DISTINCT person) AS users,
               quantile_cont(epoch(end_ts - start_ts), 0.5) AS median,
               quantile_cont(epoch(end_ts - start_ts), 0.9) AS p90,
               avg(events) AS events
        FROM sessions WHERE hw_day(start_ts, {tz}) BETWEEN DATE {quote(str(scope.rng.start))}
                                                        AND DATE {quote(str(scope.rng.end))}
        GROUP BY day
        """
    )
    by_day: dict[date, tuple[Any, ...]] = {r[0]: r for r in rows}
    missing = scope.missing_days(scope.rng.days())
    out = []
    for day in scope.rng.days():
        r = by_day.get(day)
        row: dict[str, Any] = {"date": day.isoformat(), "missing": day in missing}
        if day in missing:
            row.update(
                sessions=None, users=None, sessions_per_user=None, median_seconds=None, p90_seconds=None
            )
        elif r is None:
            row.update(sessions=0, users=0, sessions_per_user=None, median_seconds=None, p90_seconds=None)
        else:
            row.update(
                sessions=int(r[1]),
                users=int(r[2]),
                sessions_per_user=round(r[1] / r[2], 6),
                median_seconds=round(float(r[3]), 3),
                p90_seconds=round(float(r[4]), 3),
                events_per_session=round(float(r[5]), 6),
            )
        out.append(row)
    return {"rows": out}
