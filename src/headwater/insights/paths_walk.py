"""Paths over the ETL's (event, actor_hash, ts, tie) rollup instead of the events: the people of
paths.people_sql without reading the events' columns or ordering every event of every person.

A paths query of kind ``events`` without filters, or with filters on person traits and cohorts only
(``exclude`` and sessions are fine), needs of each event only its person, name and time, and the
order of two events at one instant (their message ids): the rollup has them (``tie``,
lake/rollups/event_people.py). Three steps:

1. **Anchors**: each person's first anchor event, by (ts, tie).
2. **Horizon**: for each anchored person, the time by which they have done at least
   ``HORIZON_EVENTS * (N + 2)`` events after the anchor (before it, for ``previous``), from the
   user-day rollup's counts and first and last times (rows wholly on that side of the anchor). The
   first walk (path_steps.steps_sql, one window) reads each person's events up to it only: a few dozen
   events per person, not all of them. Only a bound on the reading: a person is done when the walk
   found the N + 2 new names it needs, met the session's end, or read every event (no horizon).
3. **The rest**: the people not done (long runs of one event) are walked again over every event.

Two events of one person at one instant without both ties (received on different days, or in
files written before the column) have no known order: the query then answers from the events
(False here), as before this walk.
"""

from __future__ import annotations

from headwater.insights.columns import FilterColumns
from headwater.insights.path_steps import step_columns, steps_sql
from headwater.insights.paths_request import NONE, PathsRequest
from headwater.lake.scope import Scope
from headwater.lake.sql import file_list, quote

#: the first walk reads this many events per name it needs (the anchor, N steps, one more), by the
#: user-day rollup's counts
HORIZON_EVENTS = 4
#: ... within this many days of the anchor (else every event of the person is walked)
HORIZON_DAYS = 7
#: below this many rows in the rollup, one walk over every event of the anchored people costs less
#: than the horizon's queries (the demo's 850,000 events: 56 ms against 87)
WALK_IN_ONE_BELOW = 2_000_000
_NO_HORIZON = "SELECT NULL::BIGINT AS person, NULL::TIMESTAMPTZ AS h WHERE false"
_ANCHORS = "hw_walk_anchors"
_HORIZON = "hw_walk_horizon"
_DONE = "hw_walk_done"
_REST = "hw_walk_rest"


def walk_people(scope: Scope, query: PathsRequest, table: str) -> bool:
    """Create ``table`` as paths.people_sql's answer from the rollup; False (nothing created) when
    the walk cannot answer this query exactly (the module doc): read the events."""
    if query.kind != "events" or not _people_filters(scope, query):
        return False
    rng = query.rng
    anchor = "event IS NULL" if query.event == NONE else f"event = {quote(query.event)}"
    # the range condition on the sorted event column is what prunes row groups (see step_events)
    anchor += (
        "" if query.event == NONE else f" AND event BETWEEN {quote(query.event)} AND {quote(query.event)}"
    )
    anchor_rows = scope.walk_events(rng.start, rng.end, anchor)
    if anchor_rows is None:
        return False
    scope.sql(
        f"""CREATE OR REPLACE TEMP TABLE {_ANCHORS} AS
            SELECT person, k.t AS at_ts, k.m AS at_tie FROM (
                SELECT person, min(struct_pack(t := ts, m := tie)) AS k FROM ({_events(query, anchor_rows)})
                WHERE keep GROUP BY person
            )"""
    )
    if query.filters:
        _keep_people(scope, query)
    forward = query.direction == "next"
    horizon = _horizon_sql(scope, query) if scope.walk_rows() >= WALK_IN_ONE_BELOW else _NO_HORIZON
    scope.sql(
        f"""CREATE OR REPLACE TEMP TABLE {_HORIZON} AS
            SELECT a.*, h.h FROM {_ANCHORS} a LEFT JOIN ({horizon}) h USING (person)"""
    )
    # the first walk: the people with a horizon, their events up to it (the scan reads the times
    # between the first anchor and the last horizon only)
    span = "min(least(a.at_ts, a.h)), max(greatest(a.at_ts, a.h))"
    lo, hi = scope.sql(f"SELECT {span} FROM {_HORIZON} a WHERE a.h IS NOT NULL")[0]
    parts: list[str] = []
    columns = step_columns(query)
    rest = f"SELECT person FROM {_HORIZON} WHERE h IS NULL"
    if lo is not None:
        bounds = f"ts >= {_instant(lo)} AND ts <= {_instant(hi)}"
        within = "ev.ts <= a.h" if forward else "ev.ts >= a.h"
        rows = _rel(scope, query, bounds, f"SELECT * FROM {_HORIZON} WHERE h IS NOT NULL", within)
        if rows is None:
            return False
        scope.sql(
            f"""CREATE OR REPLACE TEMP TABLE {_DONE} AS
                WITH rel AS ({rows}), {steps_sql(query, walked=True)}
                SELECT *, found >= {query.steps + 2} OR c IS NOT NULL AS done FROM people"""
        )
        if scope.sql(f"SELECT bool_or(amb) FROM {_DONE}")[0][0]:
            return False
        parts.append(f"SELECT person, {columns} FROM {_DONE} WHERE done")
        rest += f" UNION ALL SELECT person FROM {_DONE} WHERE NOT done"
    # the rest (no horizon, or too few names by it): every event of these people
    others = f"SELECT * FROM {_HORIZON} WHERE person IN ({rest})"
    count, first, last = scope.sql(f"SELECT count(*), min(at_ts), max(at_ts) FROM ({others})")[0]
    if count:  # the scan reads from the first anchor on (up to the last, for previous)
        bound = f"ts >= {_instant(first)}" if forward else f"ts <= {_instant(last)}"
        rows = _rel(scope, query, bound, others, "true")
        if rows is None:
            return False
        scope.sql(
            f"""CREATE OR REPLACE TEMP TABLE {_REST} AS
                WITH rel AS ({rows}), {steps_sql(query, walked=True)} SELECT * FROM people"""
        )
        if scope.sql(f"SELECT bool_or(amb) FROM {_REST}")[0][0]:
            return False
        parts.append(f"SELECT person, {columns} FROM {_REST}")
    empty = f"SELECT NULL AS person, {columns} FROM (SELECT NULL::VARCHAR[] AS names) WHERE false"
    scope.sql(f"CREATE OR REPLACE TEMP TABLE {table} AS {' UNION ALL '.join(parts) or empty}")
    return True


def _people_filters(scope: Scope, query: PathsRequest) -> bool:
    """Whether the walk can apply the query's filters: none, or only person traits and cohorts
    (the same for every event of a person: the people they drop have no anchor, as in the events'
    walk), read as the events' people are named (hashes, in the project's zone)."""
    if not query.filters:
        return True
    return all(f.type in ("person", "cohort") for f in query.filters) and scope.hashed_people()


def _keep_people(scope: Scope, query: PathsRequest) -> None:
    """Drop the anchors of the people the query's trait and cohort filters drop."""
    cols = FilterColumns(scope, query.rng.end)
    glue = " AND " if query.filter_match == "all" else " OR "
    match = glue.join(f"({cols.filter(f)})" for f in query.filters)
    atoms = "".join(f", {sql} AS {alias}" for alias, sql in cols.exprs.values())
    scope.sql(
        f"""DELETE FROM {_ANCHORS} WHERE person NOT IN (
                SELECT person FROM (SELECT e.person{atoms} FROM {_ANCHORS} e {cols.joins()})
                WHERE coalesce({match}, false)
            )"""
    )


def _instant(value: object) -> str:
    return f"TIMESTAMPTZ {quote(str(value))}"


def _events(query: PathsRequest, rows: str) -> str:
    """walk_events' rows with the steps' names (``$none`` for an event without one) and ``keep``."""
    keep = f"name NOT IN ({', '.join(quote(x) for x in query.exclude)})" if query.exclude else "true"
    named = f"SELECT person, coalesce(name, {quote(NONE)}) AS name, ts, tie FROM ({rows})"
    return f"SELECT *, {keep} AS keep FROM ({named})"


def _rel(scope: Scope, query: PathsRequest, bounds: str, anchors: str, within: str) -> str | None:
    """path_steps.steps_sql's ``rel``: the events (scanned within ``bounds``) of the people of
    ``anchors`` on the anchor's side of it and ``within`` their horizon. Two events at the anchor's
    instant without both ties are kept (and found by the walk's ``amb``)."""
    rows = scope.walk_events(query.rng.start, query.rng.end, bounds)
    if rows is None:
        return None
    side = ">" if query.direction == "next" else "<"
    unknown = "ev.tie IS NULL OR a.at_tie IS NULL"
    after = f"ev.ts {side} a.at_ts OR (ev.ts = a.at_ts AND ({unknown} OR ev.tie {side}= a.at_tie))"
    return f"""
        SELECT ev.person, ev.ts, ev.tie, ev.name, ev.keep
        FROM ({_events(query, rows)}) ev JOIN ({anchors}) a ON a.person = ev.person
        WHERE ({after}) AND {within} {"" if query.session_scoped else "AND ev.keep"}
    """


def _horizon_sql(scope: Scope, query: PathsRequest) -> str:
    """SELECT (person, h): the time by which (after which, for ``previous``) an anchored person has
    done at least HORIZON_EVENTS events per name the walk needs on the anchor's side of it, within
    HORIZON_DAYS of it, by the user-day rollup's counts (rows wholly on that side, summed in order
    of time); none: not within those days. Only how far the first walk reads (module doc)."""
    files = scope.user_days_files()
    if not files:
        return _NO_HORIZON
    if query.direction == "next":
        edge, order = "last_ts", "last_ts"
        near = f"u.first_ts >= a.at_ts AND u.last_ts <= a.at_ts + INTERVAL {HORIZON_DAYS} DAY"
    else:
        edge, order = "first_ts", "first_ts DESC"
        near = f"u.last_ts <= a.at_ts AND u.first_ts >= a.at_ts - INTERVAL {HORIZON_DAYS} DAY"
    needed = HORIZON_EVENTS * (query.steps + 2)
    total = f"sum(u.events) OVER (PARTITION BY u.person ORDER BY u.{order} ROWS UNBOUNDED PRECEDING)"
    return f"""
        SELECT person, min({edge}) FILTER (WHERE total >= {needed}) AS h FROM (
            SELECT u.person, u.{edge}, {total} AS total
            FROM (
                SELECT coalesce(m.pid, d.actor_hash) AS person, d.events, d.first_ts, d.last_ts
                FROM read_parquet({file_list(files)}) d LEFT JOIN idmap_hash m ON m.aid = d.actor_hash
            ) u JOIN {_ANCHORS} a ON a.person = u.person
            WHERE {near}
        ) GROUP BY person
    """
