"""Funnels: ordered steps, each after the previous one and within a window from the first step.

For every occurrence of step 1 in the range, the earliest next step at or after the previous one
is taken; taking the earliest is optimal for a fixed start, and the best start over all
occurrences is kept, so a user's reach is exact. A user's breakdown value is the one of their
first step-1 event.

The step events are read once (persons as integers when the lake allows), the people with a
step 1 in the range get dense numbers, and each (person, time) becomes one 64-bit key
``person * span + time``: the earliest next step of every start is then a binary search in that
step's sorted keys (numpy), with no join. When the keys would not fit in 63 bits, the same
answer comes from ASOF joins in SQL (``_reach_counts_sql``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from headwater.lake.scope import Scope
from headwater.lake.sql import json_key, quote
from headwater.metrics.options import parse_steps, parse_window
from headwater.metrics.shapes import funnel_rows


def funnel(
    scope: Scope,
    steps: str | list[str] | None = None,
    window_days: int | str | None = None,
    breakdown: str | None = None,
) -> dict[str, Any]:
    names = parse_steps(steps)
    window = parse_window(window_days)
    rng = scope.rng
    rows = _reach_counts(scope, names, window, breakdown)
    out = funnel_rows(list(rows), names, rng.start, breakdown)
    return {"rows": out, "steps": names, "window_days": window, "breakdown": breakdown}


_DAY_US = 86_400_000_000


def _reach_counts(
    scope: Scope, names: list[str], window: int, breakdown: str | None
) -> list[tuple[Any, int, int]]:
    """(breakdown value, steps reached, users) for the people with a step 1 in the range."""
    rng = scope.rng
    lo, hi = scope.utc_bounds(rng.start, rng.end)
    step = "CASE event " + " ".join(f"WHEN {quote(n)} THEN {i}" for i, n in enumerate(names, 1)) + " END"
    first = f"(event = {quote(names[0])} AND ts >= {lo} AND ts < {hi})"
    bd = f"CASE WHEN {first} THEN properties->>{json_key(breakdown)} END" if breakdown else "NULL::VARCHAR"
    limit = window * _DAY_US
    # Without a breakdown, the ETL's (event, person, time) rollup when the lake allows: read straight
    # into numpy, people numbered by hashing (no temp tables, no join).
    rollup = None if breakdown else scope.step_events(rng.start, rng.end + timedelta(days=window), names)
    if rollup is not None:
        cols = scope.numpy(
            f"SELECT actor_hash, {step}::TINYINT AS step, epoch_us(ts) AS t, {first} AS start FROM ({rollup})"
        )
        if not cols["start"].any():
            return []
        import pyarrow as pa
        import pyarrow.compute as pc

        # Actors numbered by hashing; the identity map then applies to the distinct actors only,
        # and people are the distinct persons of those (several actors may be one person).
        coded = pc.dictionary_encode(pa.array(cols["actor_hash"]))
        persons = scope.hashed_map(coded.dictionary.to_numpy(zero_copy_only=False))
        _, person_of = np.unique(persons, return_inverse=True)
        ids = person_of[coded.indices.to_numpy(zero_copy_only=False)]
        people = int(person_of.max()) + 1
        starts = cols["start"].astype(bool)
        entered = np.zeros(people, dtype=bool)
        entered[ids[starts]] = True
        keep = entered[ids]
        r, steps, t, starts = ids[keep], cols["step"][keep], cols["t"][keep], starts[keep]
    else:
        events = scope.person_events(
            rng.start,
            rng.end + timedelta(days=window),
            "event, properties" if breakdown else "event",
            # The range is pushed into the Parquet scan as a real filter (IN alone is not, in DuckDB
            # 2.0): the other columns are then read for the rows in range only.
            f"event IN ({', '.join(quote(n) for n in names)})"
            f" AND event BETWEEN {quote(min(names))} AND {quote(max(names))}",
        )
        scope.sql(
            f"""CREATE OR REPLACE TEMP TABLE hw_funnel AS
                SELECT person, {step}::TINYINT AS step, epoch_us(ts) AS t, {first} AS start, {bd} AS bd
                FROM ({events})"""
        )
        scope.sql(
            """CREATE OR REPLACE TEMP TABLE hw_funnel_people AS
               SELECT person, arg_min(bd, t) AS bd, (row_number() OVER () - 1)::BIGINT AS r
               FROM hw_funnel WHERE start GROUP BY person"""
        )
        people = int(scope.sql("SELECT count(*) FROM hw_funnel_people")[0][0])
        if people == 0:
            return []
        cols = scope.numpy(
            """SELECT p.r, f.step, f.t, f.start FROM hw_funnel f JOIN hw_funnel_people p USING (person)"""
        )
        r, steps, t, starts = cols["r"], cols["step"], cols["t"], cols["start"]
    base = int(t.min())
    span = int(t.max()) - base + limit + 1
    if people * span >= 1 << 62:
        return _reach_counts_sql(scope, names, window, breakdown)
    key = r.astype(np.int64) * span + (t.astype(np.int64) - base)
    current = np.sort(key[starts.astype(bool)])  # sorted queries: searchsorted walks forward
    person = current // span
    deadline = current + limit
    alive = np.ones(len(current), dtype=bool)
    reach = np.ones(len(current), dtype=np.int8)
    for i in range(2, len(names) + 1):
        later = np.sort(key[steps == i])
        if len(later) == 0:
            break
        at = np.minimum(np.searchsorted(later, current, side="left"), len(later) - 1)
        nxt = later[at]
        alive &= (nxt >= current) & (nxt <= deadline)  # same person: deadline is within its span
        reach += alive
        current = nxt  # still sorted (a dead start's value no longer matters)
    # Starts are sorted by person: the best reach of each person is the max over its block.
    bounds = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
    best = np.zeros(people, dtype=np.int8)
    best[person[bounds]] = np.maximum.reduceat(reach, bounds)
    if not breakdown:
        found = np.bincount(best, minlength=len(names) + 1)
        return [(None, k, int(found[k])) for k in range(1, len(names) + 1) if found[k]]
    import pyarrow as pa

    con = scope.con
    con.register("hw_funnel_best", pa.table({"r": np.arange(people, dtype=np.int64), "reach": best}))
    try:
        rows = scope.sql(
            "SELECT p.bd, b.reach, count(*) FROM hw_funnel_people p"
            " JOIN hw_funnel_best b USING (r) GROUP BY ALL"
        )
    finally:
        con.unregister("hw_funnel_best")
    return [(v, int(k), int(n)) for v, k, n in rows]


def _reach_counts_sql(
    scope: Scope, names: list[str], window: int, breakdown: str | None
) -> list[tuple[Any, int, int]]:
    """The same as _reach_counts by ASOF joins in SQL: for every step-1 event the earliest next step."""
    rng = scope.rng
    bd = f"e.properties->>{json_key(breakdown)}" if breakdown else "NULL"
    events = scope.events(rng.start, rng.end + timedelta(days=window))
    names_sql = ", ".join(quote(n) for n in names)
    parts = [
        f"""e AS (SELECT person, event, ts, day, {bd} AS bd FROM ({events}) e
                  WHERE person IS NOT NULL AND event IN ({names_sql}))""",
        f"""j1 AS (SELECT person, ts AS t1, bd FROM e WHERE event = {quote(names[0])}
                   AND day BETWEEN DATE {quote(str(rng.start))} AND DATE {quote(str(rng.end))})""",
    ]
    for i, name in enumerate(names[1:], start=2):
        parts.append(f"s{i} AS (SELECT person, ts FROM e WHERE event = {quote(name)})")
        parts.append(
            f"""j{i} AS (SELECT j.*, s.ts AS t{i} FROM j{i - 1} j
                         ASOF LEFT JOIN s{i} s ON j.person = s.person AND s.ts >= j.t{i - 1})"""
        )
    limit = f"t1 + INTERVAL {window} DAY"
    reach = (
        "CASE "
        + " ".join(f"WHEN t{i} IS NULL OR t{i} > {limit} THEN {i - 1}" for i in range(2, len(names) + 1))
        + f" ELSE {len(names)} END"
    )
    rows = scope.sql(
        f"""WITH {", ".join(parts)},
            per AS (SELECT person, arg_min(bd, t1) AS bd, max({reach}) AS reach
                    FROM j{len(names)} GROUP BY person)
            SELECT bd, reach, count(*) FROM per GROUP BY ALL"""
    )
    return [(v, int(k), int(n)) for v, k, n in rows]
