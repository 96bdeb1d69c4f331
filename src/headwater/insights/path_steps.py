"""The walk of paths: given each person's events on the anchor's side of it, the names of their
steps (insights/paths.py's walk over the events and insights/paths_walk.py's over the rollup share it)."""

from __future__ import annotations

from headwater.events.sessions import INACTIVITY_US
from headwater.insights.paths_request import PathsRequest


def steps_sql(query: PathsRequest, walked: bool = False) -> str:
    """The CTEs ``marked`` and ``people`` over a CTE ``rel`` (person, ts, tie, name, keep: each
    person's events on the anchor's side of it, the anchor included; ordered by (ts, tie),
    backwards for ``previous``): ``people`` has per person ``names`` (the anchor and the first new
    names after it, N + 2 at most) and ``c`` (the first session break), and, ``walked`` (the walks
    of insights/paths_walk.py), ``found`` (the new names walked) and ``amb`` (two events at one
    instant without both ties: their order is unknown)."""
    n = query.steps
    session = query.session_scoped
    order = "ts, tie" if query.direction == "next" else "ts DESC, tie DESC"
    # sessions (the lake's rule): a gap of more than 30 minutes between two events of the person,
    # of any kind (the filters choose the steps, not the sessions), ends the anchor's session
    previous = "lag(CASE WHEN keep THEN name END IGNORE NULLS) OVER o" if session else "lag(name) OVER o"
    gap = f"abs(epoch_us(ts) - epoch_us(lag(ts) OVER o)) > {INACTIVITY_US}" if session else "false"
    # the walk's order numbers the events (r, from the same window): the first N + 2 new names are
    # a top-N aggregate on it; a session-scoped walk ends before its first break (c)
    if session:
        seq = f"arg_min(struct_pack(n := name, r := r), r, {n + 2})"
        names = "list_transform(list_filter(seq, lambda x: c IS NULL OR x.r < c), lambda x: x.n)"
    else:
        seq, names = f"arg_min(name, r, {n + 2})", "seq"
    new = "keep AND prev IS DISTINCT FROM name"
    amb = "ts = lag(ts) OVER o AND (tie IS NULL OR lag(tie) OVER o IS NULL)" if walked else "false"
    more = f", count(*) FILTER (WHERE {new}) AS found, bool_or(amb) AS amb" if walked else ""
    return f"""
        marked AS (
            SELECT person, name, keep, {previous} AS prev, {gap} AS brk, row_number() OVER o AS r,
                   {amb} AS amb
            FROM rel WINDOW o AS (PARTITION BY person ORDER BY {order})
        ),
        people AS (
            SELECT *, {names} AS names FROM (
                SELECT person, {seq} FILTER (WHERE {new}) AS seq,
                       {"min(r) FILTER (WHERE brk)" if session else "NULL::BIGINT"} AS c{more}
                FROM marked GROUP BY person
            )
        )
    """


def step_columns(query: PathsRequest) -> str:
    """The columns s1 .. sN and ``more`` of people_sql, from ``people``' names."""
    n = query.steps
    steps = "".join(f"names[{k + 1}] AS s{k}, " for k in range(1, n + 1))
    return f"{steps}names[{n + 2}] IS NOT NULL AS more"
