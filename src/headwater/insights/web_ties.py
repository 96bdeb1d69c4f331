"""Visits that start or end with two page views at one instant (web_rollup.py): which is the entry
(exit) is decided by the page views' messageIds, the first by time then messageId is the entry,
the last the exit. The visit rollup keeps a run's first and last page views, not their ids, so the
page views of those people at those instants are read from the events, and only those: a handful
of rows found by their time (a few dozen in 4.2M visits over 50M events), where a read of every
page event took 20 s.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from headwater.lake.rollups.visits import PAGE_COLUMNS, PAGE_EVENTS, source_sql
from headwater.lake.scope import Scope
from headwater.lake.sql import quote

#: more instants than this to look up: read every page event instead (the SQL stays small)
MAX_INSTANTS = 2_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def tied_views(scope: Scope, people: Any, instants: Any, numbered: bool) -> list[dict[str, Any]] | None:
    """The page views of ``people`` at ``instants`` (epoch microseconds; pairs, row by row), each a
    dict: person, t, message_id, the PAGE_COLUMNS' short names (path, ref_domain, host, ...) and
    ``src``, the source. ``numbered``: people are the visit rollup's numbers (hashes), else as
    Scope.person_events names them. None: too many instants to look up."""
    import pyarrow as pa

    wanted = sorted(set(int(t) for t in instants))
    if len(wanted) > MAX_INSTANTS:
        return None
    zone = ZoneInfo(scope.tz)
    moments = [_EPOCH + timedelta(microseconds=t) for t in wanted]
    first, last = moments[0].astimezone(zone).date(), moments[-1].astimezone(zone).date()
    where = f"{PAGE_EVENTS} AND ts IN ({', '.join(_stamp(m) for m in moments)})"
    columns = ["message_id", *PAGE_COLUMNS]
    scope.prepare_derived(columns, first, last, where)
    events = scope.person_events(first, last, ", ".join(columns), where)
    person = "hash(person)" if numbered and not scope.hashed_people() else "person"
    named = ", ".join(f"{column} AS {name}" for column, name in PAGE_COLUMNS.items())
    scope.con.register("hw_tied_wanted", pa.table({"person": pa.array(people), "t": pa.array(instants)}))
    try:
        rows: list[dict[str, Any]] = scope.arrow(
            f"""SELECT v.*, {source_sql("v")} AS src
                FROM (SELECT {person} AS person, epoch_us(ts) AS t, message_id, {named} FROM ({events})) v
                SEMI JOIN hw_tied_wanted w ON w.person = v.person AND w.t = v.t"""
        ).to_pylist()
    finally:
        scope.con.unregister("hw_tied_wanted")
    return rows


def first_and_last(
    rows: list[dict[str, Any]],
) -> dict[tuple[Any, int], tuple[dict[str, Any], dict[str, Any]]]:
    """Per (person, instant) of ``rows`` (tied_views), its first and its last page view by messageId."""
    by: dict[tuple[Any, int], list[dict[str, Any]]] = {}
    for row in rows:
        by.setdefault((row["person"], int(row["t"])), []).append(row)
    out = {}
    for key, views in by.items():
        ordered = sorted(views, key=lambda v: str(v["message_id"] or ""))
        out[key] = (ordered[0], ordered[-1])
    return out


def _stamp(moment: datetime) -> str:
    return f"TIMESTAMPTZ {quote(moment.isoformat())}"


def boundary_ties(t: Any, brk: Any, ends: Any) -> list[tuple[str, Any]]:
    """Over page views sorted by (person, time), visits starting at ``brk`` and ending at ``ends``:
    the positions of the page views at a visit's first instant when they are more than one
    (``("first", positions)``), and at its last (``("last", positions)``)."""
    import numpy as np

    same = np.zeros(len(t), np.bool_)  # the page view after is of the visit, at the same instant
    same[:-1] = ~brk[1:] & (t[1:] == t[:-1])
    out: list[tuple[str, Any]] = []
    for i in np.flatnonzero(brk & same).tolist():
        j = i
        while same[j]:
            j += 1
        out.append(("first", np.arange(i, j + 1)))
    before = np.zeros(len(t), np.bool_)
    before[1:] = same[:-1]
    for k in np.flatnonzero(ends & before).tolist():
        i = k
        while before[i]:
            i -= 1
        out.append(("last", np.arange(i, k + 1)))
    return out


def settle_ties(
    scope: Scope, pages: str, groups: list[tuple[str, Any, Any, int]], marks: dict[str, Any]
) -> None:
    """Mark, in each group of tied page views (kind "first" or "last", their row ids in the table
    ``pages``, their person, their instant), the one first (last) by messageId as its visit's first
    (last): ``marks["first"]`` / ``marks["last"]`` (by row id) changed in place. The page view is
    found among the rows by its values (rows of equal values answer the same)."""
    if not groups:
        return
    rows = tied_views(scope, [g[2] for g in groups], [g[3] for g in groups], numbered=False)
    if rows is None:  # too many to look up: the rows' order decides (a sorted read's, unchanged)
        return
    found = first_and_last(rows)
    names = list(PAGE_COLUMNS.values())
    ids = sorted({int(r) for g in groups for r in g[1]})
    values = {
        int(r[0]): tuple(r[1:])
        for r in scope.sql(
            f"SELECT rowid, {', '.join(names)} FROM {pages} WHERE rowid IN ({', '.join(map(str, ids))})"
        )
    }
    for kind, rids, person, t in groups:
        views = found.get((person, int(t)))
        if views is None:  # pragma: no cover - the events hold the page views they were read from
            continue
        view = views[0] if kind == "first" else views[1]
        wanted = tuple(view[n] for n in names)
        chosen = next((int(r) for r in rids if values.get(int(r)) == wanted), None)
        if chosen is not None:
            marks[kind][rids] = False
            marks[kind][chosen] = True
