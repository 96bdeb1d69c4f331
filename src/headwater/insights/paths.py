"""Paths over the lake and the log not loaded yet (lake/scope.py): the most common steps after (or
before) each person's first occurrence of an anchor event in the range, up to 5 steps, with the
people at each node and how many of them went no further (docs/insights.md, "Paths").

Two queries answer a paths query:

1. ``people_sql`` (kept as the temporary table ``hw_paths_people``): one row per person who did the
   anchor, with the names of their steps ``s1`` .. ``sN`` and ``more`` (a step after the last one).
   The anchors are each person's first anchor event by (ts, message_id); the events of those
   people on the anchor's side of it are joined to them, and ONE window over each person's events
   (ordered by ts, message_id; backwards for ``previous``) gives the previous kept name (``lag``,
   ignoring the events the filters drop: a repeat of the same name is no new step) and, for
   session-scoped paths, the gap since the previous event of any kind. A top-N aggregate
   (``arg_min(.., N + 2)``) then keeps the first N + 2 new names of each person: the anchor, the
   steps, and one more (path_steps.steps_sql). Nothing of the events reaches Python. A query of
   kind ``events`` without filters gets the same table from the ETL's (event, person hash, time,
   tie) rollup instead, its walk bounded per person (insights/paths_walk.py).
2. ``tree_sql``: per step, the ``limit`` most common nodes (a path as shown so far, then a name)
   keep their name; every other person at that step is in the ``$other`` node under their parent.
   A step has at most ``limit`` named nodes and one ``$other`` per node of the step before: only
   those (at most ``limit * step + 1``) reach Python, whatever the number of distinct names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headwater.insights.cohorts import Cohorts, attach, describe_cohorts, resolve_cohorts
from headwater.insights.columns import FilterColumns
from headwater.insights.dimensions import DERIVED_COLUMNS, derived_sql
from headwater.insights.path_steps import step_columns, steps_sql
from headwater.insights.paths_request import NONE, PathsRequest, parse_paths
from headwater.insights.paths_walk import walk_people
from headwater.insights.request import Filter, cohort_refs
from headwater.lake.scope import Scope
from headwater.lake.sql import quote
from headwater.lake.swapped import read_again

OTHER = "$other"
PEOPLE_TABLE = "hw_paths_people"


def run_paths(
    data_dir: Path, project_tz: str, body: object, cohorts: Cohorts | None = None
) -> dict[str, Any]:
    """The answer of ``POST /api/v1/insights/paths`` for a JSON body (see docs/insights.md)."""
    query = parse_paths(body, project_tz)
    members = resolve_cohorts(cohorts, cohort_refs([("filters", query.filters)]))

    def answer() -> dict[str, Any]:
        with Scope(data_dir, query.rng) as scope:
            attach(scope, members)
            return paths(scope, query)

    out = read_again(answer)
    if members:
        out["cohorts"] = describe_cohorts(members)
    return out


def _name_sql(query: PathsRequest) -> str:
    """A step's name: the event's name, or the path of a page event (kind pages)."""
    name = derived_sql("path") if query.kind == "pages" else "e.event"
    return f"coalesce({name}, {quote(NONE)})"


def _events_sql(scope: Scope, query: PathsRequest, reads: FilterColumns, scan: str) -> str:
    """SELECT (person, ts, message_id, name, keep) of the events of the range (``scan`` over the
    lake's columns narrows the read); ``keep``: the event may be a step (kind, filters, exclude)."""
    name = _name_sql(query)
    if query.kind == "pages":
        reads.raw.update(("type", *DERIVED_COLUMNS["path"]))
    matches = [reads.filter(f) for f in query.filters]
    glue = " AND " if query.filter_match == "all" else " OR "
    keep = [f"({glue.join(matches)})"] if matches else []
    if query.kind == "pages":
        keep.append("page")
    if query.exclude:
        keep.append(f"name NOT IN ({', '.join(quote(x) for x in query.exclude)})")
    rng = query.rng
    source = reads.source(rng.start, rng.end, scan)
    atoms = "".join(f", {sql} AS {alias}" for alias, sql in reads.exprs.values())
    page = ", e.type = 'page' AS page" if query.kind == "pages" else ""
    return f"""
        SELECT person, ts, message_id, name, {" AND ".join(keep) or "true"} AS keep
        FROM (SELECT e.person, e.ts, e.message_id, {name} AS name{page}{atoms}
              FROM ({source}) e {reads.joins()})
    """


def _anchor_scan(query: PathsRequest) -> str:
    """What the anchors' read may skip at the scan: the other events (events), non-page events (pages)."""
    if query.kind == "pages":
        return "type = 'page'"
    return "event IS NULL" if query.event == NONE else f"event = {quote(query.event)}"


def people_sql(scope: Scope, query: PathsRequest) -> str:
    """SELECT (person, s1 .. sN, more): each person who did the anchor, the names of their steps
    (NULL past their last) and whether they did anything after step N. See the module doc."""
    reads = FilterColumns(scope, query.rng.end, ("event", "message_id"))
    session = query.session_scoped
    forward = query.direction == "next"
    # the steps' events: every event of the range, but the filters' and the session's needs
    scan = "type = 'page'" if query.kind == "pages" and not session else "true"
    events = _events_sql(scope, query, reads, scan)
    anchor_events = _events_sql(scope, query, reads, _anchor_scan(query))
    side = ">" if forward else "<"
    return f"""
        WITH anchors AS (
            SELECT person, k.t AS at, k.m AS am FROM (
                SELECT person, min(struct_pack(t := ts, m := message_id)) AS k FROM ({anchor_events})
                WHERE keep AND name = {quote(query.event)} GROUP BY person
            )
        ),
        rel AS (
            SELECT ev.person, ev.ts, ev.message_id AS tie, ev.name, ev.keep
            FROM ({events}) ev JOIN anchors a ON a.person = ev.person
            WHERE (ev.ts {side} a.at OR (ev.ts = a.at AND ev.message_id {side}= a.am))
              {"" if session else "AND ev.keep"}
        ),
        {steps_sql(query)}
        SELECT person, {step_columns(query)} FROM people
    """


def tree_sql(query: PathsRequest) -> str:
    """SELECT (step, path, users, further) of every node: ``path`` the names of steps 1..step (NULL
    for $other), ``further`` the people at the node with a next step. See the module doc.

    ``x{k}`` is a person's step k as shown: its name when (shown path so far, name) is one of the
    step's ``limit`` most common (ties by the path's text, $other last), else NULL ($other)."""
    n, limit = query.steps, int(query.limit)
    ctes = [f"q0 AS (SELECT * FROM {PEOPLE_TABLE})"]
    for k in range(1, n + 1):
        shown = [f"x{j}" for j in range(1, k)]
        order = "".join(f"{c} NULLS LAST, " for c in shown)
        ctes.append(
            f"""t{k} AS (SELECT {"".join(c + ", " for c in shown)}s{k}, true AS hit FROM q{k - 1}
                       WHERE s{k} IS NOT NULL GROUP BY ALL
                       ORDER BY count(*) DESC, {order}s{k} LIMIT {limit})"""
        )
        on = " AND ".join([*(f"q.{c} IS NOT DISTINCT FROM t.{c}" for c in shown), f"q.s{k} = t.s{k}"])
        ctes.append(
            f"""q{k} AS (SELECT q.*, CASE WHEN t.hit THEN q.s{k} END AS x{k}
                       FROM q{k - 1} q LEFT JOIN t{k} t ON {on})"""
        )
    parts = []
    for k in range(1, n + 1):
        path = ", ".join(f"x{j}" for j in range(1, k + 1))
        further = f"s{k + 1} IS NOT NULL" if k < n else "more"
        parts.append(
            f"""SELECT {k} AS step, [{path}]::VARCHAR[] AS path, count(*) AS users,
                       count(*) FILTER (WHERE {further}) AS further
                FROM q{n} WHERE s{k} IS NOT NULL GROUP BY path"""
        )
    return f"WITH {', '.join(ctes)} {' UNION ALL '.join(parts)}"


def paths(scope: Scope, query: PathsRequest) -> dict[str, Any]:
    """The paths' answer over an open scope (see docs/insights.md for every field): the people by
    the rollup's walk where it answers (insights/paths_walk.py), by the events' walk otherwise."""
    if not walk_people(scope, query, PEOPLE_TABLE):
        scope.sql(f"CREATE OR REPLACE TEMP TABLE {PEOPLE_TABLE} AS {people_sql(scope, query)}")
    anchor = scope.sql(f"SELECT count(*), count(*) FILTER (WHERE s1 IS NOT NULL) FROM {PEOPLE_TABLE}")
    users, further = (int(v) for v in anchor[0])
    nodes = scope.sql(tree_sql(query)) if users else []
    return _answer(scope, query, users, further, nodes)


def _answer(
    scope: Scope, query: PathsRequest, users: int, further: int, nodes: list[tuple[Any, ...]]
) -> dict[str, Any]:
    rng = query.rng
    by_step: dict[int, list[dict[str, Any]]] = {k: [] for k in range(1, query.steps + 1)}
    sizes: dict[tuple[str | None, ...], int] = {(): users}
    sizes.update({tuple(path): int(count) for _, path, count, _ in nodes})
    for step, path, count, more in nodes:
        key = tuple(path)
        parent = sizes[key[:-1]]
        by_step[int(step)].append(
            {
                "path": [query.event, *(OTHER if p is None else p for p in key)],
                "event": OTHER if key[-1] is None else key[-1],
                "other": key[-1] is None,
                "users": int(count),
                "share_of_anchor": round(int(count) / users, 6),
                "share_of_parent": round(int(count) / parent, 6),
                "drop_off": int(count) - int(more),
            }
        )
    steps = []
    for k, shown in by_step.items():
        shown.sort(key=lambda node: (node["other"], -node["users"], _order(node["path"])))
        total = sum(node["users"] for node in shown)
        drop = sum(node["drop_off"] for node in shown)
        steps.append({"step": k, "users": total, "drop_off": drop, "nodes": shown})
    return {
        "insight": "paths",
        "start": rng.start.isoformat(),
        "end": rng.end.isoformat(),
        "tz": rng.tz,
        "kind": query.kind,
        "direction": query.direction,
        "step_count": query.steps,
        "limit": query.limit,
        "session_scoped": query.session_scoped,
        "filters": [_describe_filter(f) for f in query.filters],
        "filter_match": query.filter_match,
        "exclude": list(query.exclude),
        "anchor": {"event": query.event, "users": users, "drop_off": users - further},
        "steps": steps,
        "missing_days": sorted(d.isoformat() for d in scope.missing_days(rng.days())),
    }


def _order(path: list[str]) -> list[tuple[bool, str]]:
    return [(p == OTHER, p) for p in path]


def _describe_filter(f: Filter) -> dict[str, Any]:
    value = list(f.value) if isinstance(f.value, tuple) else f.value
    return {"type": f.type, "name": f.name, "op": f.op, "value": value}
