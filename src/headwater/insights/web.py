"""Web analytics, Plausible's view, over the lake and the log not loaded yet (lake/scope.py):
visitors, visits, pageviews, views per visit, bounce rate and visit duration; top pages, entry and
exit pages, sources, UTM, devices, browsers, OS, countries and regions (docs/insights.md, "Web
analytics").

A visit is a session of one person's page events (the session rule of events/sessions.py: a new
visit after 30 minutes without a pageview, or once it is 24 hours long), and belongs to the local
day its first pageview is on. The lake's session rollup cannot be reused: it cuts every event of an
actor into runs, where a visit is made of page events only (and of one person, whose ids are merged);
the ETL's visit rollup is made of page views' runs, and answers a query without filters
(web_rollup.py: ``hw_web_visits`` and ``hw_web_page_counts`` from it).

Otherwise (web_sql.py): one scan of the page events of the range (two days before it, so a visit
running into it starts right, and one after, so a visit starting on its last day ends right) into
``hw_web_pages``; each pageview's visit found in numpy (``hw_web_marks``: cheaper than two window
sorts of the wide rows); the visits grouped into ``hw_web_visits``. Then, either way, the summary,
the top values of every breakdown in one query (the visits and the page counts), and the distinct
visitors of every ``$other`` in one more.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from headwater.events.sessions import MAX_LENGTH
from headwater.insights.cohorts import Cohorts, attach, describe_cohorts, resolve_cohorts
from headwater.insights.columns import FilterColumns
from headwater.insights.request import cohort_refs
from headwater.insights.web_counts import Counted, Row, Totals, page_rows, totals
from headwater.insights.web_request import WebRequest, parse_web
from headwater.insights.web_rollup import build_from_rollup
from headwater.insights.web_sql import (
    MARKS,
    PAGES,
    VISIT_LISTS,
    VISITS,
    counted_sql,
    describe_filter,
    match_sql,
    page_counts_sql,
    pages_sql,
    visits_sql,
)
from headwater.insights.web_ties import boundary_ties, settle_ties
from headwater.lake.rollups.visits import PAGE_COLUMNS, PAGE_EVENTS
from headwater.lake.scope import Scope
from headwater.lake.swapped import read_again
from headwater.lake.time_order import run_ends, run_starts, time_order
from headwater.metrics.sessions import LOOKBACK_DAYS

OTHER = "$other"
NONE = "$none"
PAGES_LIST = "pages"
#: pageviews numbered into visits at a time (bounded memory)
CHUNK_ROWS = 2_000_000
MAX_LENGTH_US = MAX_LENGTH // timedelta(microseconds=1)
#: a visit list's name -> (its column of the visits, what its NULL reads as)
_LIST_COLUMNS = {name: (column, null_as) for name, column, null_as in VISIT_LISTS}


def run_web(data_dir: Path, project_tz: str, body: object, cohorts: Cohorts | None = None) -> dict[str, Any]:
    """The answer of ``POST /api/v1/insights/web`` for a JSON body (see docs/insights.md)."""
    query = parse_web(body, project_tz)
    members = resolve_cohorts(cohorts, cohort_refs([("filters", query.filters)]))

    def answer() -> dict[str, Any]:
        with Scope(data_dir, query.rng) as scope:
            attach(scope, members)
            return web(scope, query)

    out = read_again(answer)
    if members:
        out["cohorts"] = describe_cohorts(members)
    return out


def web(scope: Scope, query: WebRequest) -> dict[str, Any]:
    """The web analytics answer over an open scope."""
    visits, pages = _build(scope, query)
    counted = Counted(visits)
    out: dict[str, Any] = {
        "insight": "web",
        "start": query.rng.start.isoformat(),
        "end": query.rng.end.isoformat(),
        "tz": query.rng.tz,
        "filters": [describe_filter(f) for f in query.filters],
        "filter_match": query.filter_match,
        "limit": query.limit,
        "compare": query.compare,
        "lists": list(query.lists),
        "summary": _summary(counted.totals()),
    }
    if query.compare:
        first, last = query.previous
        out["previous"] = {"start": first.isoformat(), "end": last.isoformat(), **_summary(totals(visits, 2))}
    for name in query.lists:
        if name == PAGES_LIST:
            rows, other = page_rows(pages, query.limit)
        else:
            column, null_as = _LIST_COLUMNS[name]
            rows, other = counted.list_rows(column, query.limit, null_as)
        out[name] = [_row(r) for r in rows] + ([_row(other, OTHER)] if other else [])
    out["missing_days"] = sorted(d.isoformat() for d in scope.missing_days(query.rng.days()))
    return out


def _build(scope: Scope, query: WebRequest) -> tuple[Any, Any]:
    """The visits and page counts web_counts.py reads (no page counts when the pages list is not
    asked for), from the visit rollup where it answers the
    same (web_rollup.py), else from the page events (hw_web_pages, hw_web_marks, hw_web_visits)."""
    columns = [_LIST_COLUMNS[name][0] for name in query.lists if name != PAGES_LIST]
    built = build_from_rollup(scope, query, columns, PAGES_LIST in query.lists)
    if built is not None:
        return built
    first = (query.previous[0] if query.compare else query.rng.start) - timedelta(days=LOOKBACK_DAYS)
    last = query.rng.end + timedelta(days=1)
    cols = FilterColumns(scope, query.trend.rng.end, PAGE_COLUMNS)
    match = match_sql([cols.filter(f) for f in query.filters], query)
    source = cols.source(first, last, PAGE_EVENTS)
    atoms = list(cols.exprs.values())
    since, _ = scope.utc_bounds(query.rng.start, query.rng.end)
    scope.sql(
        f"CREATE OR REPLACE TEMP TABLE {PAGES} AS {pages_sql(source, atoms, cols.joins(), match, since)}"
    )
    since_us = int(query.rng.utc_bounds(query.rng.start)[0].timestamp()) * 1_000_000
    _mark_visits(scope, since_us if columns else None)  # the summary alone reads no entry nor exit
    scope.sql(f"CREATE OR REPLACE TEMP TABLE {VISITS} AS {visits_sql(query)}")
    visits = scope.arrow(counted_sql(columns))
    return visits, scope.arrow(page_counts_sql()) if PAGES_LIST in query.lists else None


def _mark_visits(scope: Scope, since_us: int | None) -> None:
    """The table hw_web_marks (vid, first, last), row by row beside hw_web_pages: each pageview's
    visit, by the session rule (each person's pageviews in time order, a new visit after a gap of
    more than 30 minutes or once the visit is 24 hours long), and whether it is its first or last.

    In numpy, as the ETL's session rollup cuts runs: people numbered by hashing, one sort of 64-bit
    keys ``person * span + time``, vectorized gap tests; the rare run of 24 hours or more cut by a
    loop over its pageviews. Page views at a visit's first (last) instant of the range are ordered
    by messageId (web_ties.py), as the visit rollup's reader orders them, unless ``since_us`` (the
    range's first instant) is None: no list is asked for, so no entry or exit is read. People are taken
    ``CHUNK_ROWS`` pageviews at a time (by the hash of the person: a visit never spans two chunks),
    so memory stays bounded."""
    import numpy as np
    import pyarrow as pa

    count, top = scope.sql(f"SELECT count(*), coalesce(max(rowid), -1) FROM {PAGES}")[0]
    n = int(count)
    if int(top) != n - 1:  # pragma: no cover - DuckDB numbers a new table's rows 0 .. n-1
        raise RuntimeError(f"{PAGES}: rowids are not 0..{n - 1}")
    vid, first, last = np.zeros(n, np.int64), np.zeros(n, np.bool_), np.zeros(n, np.bool_)
    chunks = max(1, -(-n // CHUNK_ROWS))
    visits = 0
    tied: list[tuple[str, Any, Any, int]] = []  # page views at a visit's first (last) instant
    for k in range(chunks):
        part = f"WHERE hash(person) % {chunks} = {k}" if chunks > 1 else ""
        cols = scope.numpy(f"SELECT rowid AS rid, person, epoch_us(ts) AS t FROM {PAGES} {part}")
        if len(cols["rid"]) == 0:
            continue
        t = np.asarray(cols["t"], dtype=np.int64)
        ids, order, _, _ = time_order(cols["person"], t)
        ids, t, rid = ids[order], t[order], cols["rid"][order]
        brk = run_starts(ids, t)
        _cut_long_runs(brk, t)
        ends = run_ends(brk)
        vid[rid] = np.cumsum(brk) + visits
        first[rid], last[rid] = brk, ends
        visits += int(brk.sum())
        if since_us is None:
            continue
        person = cols["person"][order]
        for kind, at in boundary_ties(t, brk, ends):
            if t[at[0]] >= since_us:  # a visit of the range (the ones before have no values)
                tied.append((kind, rid[at], person[at[0]], int(t[at[0]])))
    settle_ties(scope, PAGES, tied, {"first": first, "last": last})
    scope.con.register(MARKS, pa.table({"vid": vid, "first": first, "last": last}))


def _cut_long_runs(brk: Any, t: Any) -> None:
    """Starts (``brk``) of new visits inside the runs of 24 hours or more (times ``t`` sorted by
    person and time; ``brk`` marks each run's first): a visit is cut once it is 24 hours long."""
    import numpy as np

    starts = np.flatnonzero(brk)
    ends = np.append(starts[1:], len(t)) - 1
    for i in np.flatnonzero(t[ends] - t[starts] >= MAX_LENGTH_US):
        begun = int(t[starts[i]])
        for j in range(int(starts[i]) + 1, int(ends[i]) + 1):
            if int(t[j]) - begun >= MAX_LENGTH_US:
                brk[j], begun = True, int(t[j])


def _summary(figures: Totals) -> dict[str, Any]:
    """The summary of a period's figures (all 0 when nothing happened)."""
    visits = figures.visits
    return {
        "visitors": figures.visitors,
        "visits": visits,
        "pageviews": figures.pageviews,
        "views_per_visit": round(figures.pageviews / visits, 6) if visits else 0.0,
        "bounce_rate": round(figures.bounces / visits, 6) if visits else 0.0,
        "visit_duration": round(figures.duration_us / 1e6 / visits, 3) if visits else 0.0,
    }


def _row(row: Row, value: str | None = None) -> dict[str, Any]:
    """A list's row as answered (``value``: the row's own, else ``$none`` for no value)."""
    shown = value if value is not None else (NONE if row.value is None else row.value)
    out: dict[str, Any] = {"value": shown, "visitors": row.visitors}
    if row.visits is None:  # pages
        out["pageviews"] = row.pageviews
        return out
    n = row.visits
    out.update(
        visits=n,
        pageviews=row.pageviews,
        bounce_rate=round((row.bounces or 0) / n, 6) if n else 0.0,
        visit_duration=round((row.duration_us or 0) / 1e6 / n, 3) if n else 0.0,
    )
    return out
