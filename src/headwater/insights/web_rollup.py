"""Web analytics from the visit rollup (lake/rollups/visits.py) instead of the page events: the
same visits and page counts (web_counts.py) as from the events (web.py), from each actor's runs of
page views per received day, a few rows per visit instead of a row per page view.

A person's runs, in order of start, are one visit exactly when each starts at most 30 minutes after
the latest end before it (the runs of the union of their page views, as the sessions metric merges
the session rollup's). The runs are read once, as Arrow (only the columns of the lists asked for),
and the visits made of them in numpy and Arrow (a visit takes its entry and first page view's
values from its first run, its exit from the run that ends it: a take by index, no grouping of
text). A visit of the range that starts (ends) with two page views at one instant, in one run or
in two, takes them from the page view first (last) by messageId, read from the events at that
instant alone (web_ties.py).

The events are read instead (web.py) when the rollup cannot say what they would:

- the query has filters (a filter matches page views, not runs) or a cohort, or a loaded day lacks
  the rollup (Scope.visit_runs);
- a merged visit is 24 hours long or more (the session rule cuts it where its page views fall);
- more tied instants than web_ties.MAX_INSTANTS to look up.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from headwater.events.sessions import INACTIVITY_US, MAX_LENGTH
from headwater.insights.web_request import WebRequest
from headwater.insights.web_ties import first_and_last, tied_views
from headwater.lake.rollups.visits import FIRST_VIEW
from headwater.lake.scope import Scope
from headwater.lake.time_order import latest_ends, time_order
from headwater.metrics.sessions import LOOKBACK_DAYS

MAX_LENGTH_US = MAX_LENGTH // timedelta(microseconds=1)
#: the summary's runs as _merge reads them: DuckDB sorts the narrow rows (in parallel: faster than
#: numpy's order by time then radix by person over 4.2M runs, and no gathers after; the wide rows
#: of the lists are ordered in numpy, a sort of them in DuckDB took longer)
RUNS_ORDER = "ORDER BY person, start_ts"


def build_from_rollup(
    scope: Scope, query: WebRequest, columns: list[str], pages: bool
) -> tuple[Any, Any] | None:
    """The visits (with the visit lists' ``columns``) and, when ``pages``, the page counts that
    web_counts.py reads, from the visit rollup; None: read the events (module doc)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if query.filters:
        return None
    counted = query.previous[0] if query.compare else query.rng.start
    detail = bool(columns) or pages  # else the summary alone
    read = ["start_ts", "end_ts", "pageviews", *(["tie_first", "tie_last"] if detail else []), *columns]
    sql = scope.visit_runs(
        counted - timedelta(days=LOOKBACK_DAYS), query.rng.end + timedelta(days=1), read + ["paths"] * pages
    )
    if sql is None:
        return None
    runs = scope.arrow(sql if detail else f"{sql} {RUNS_ORDER}")
    visits = _merge(runs, detail)
    start, end = visits["start"], visits["end"]
    lo, hi = (int(bound.timestamp()) * 1_000_000 for bound in query.rng.utc_bounds(counted))
    if bool(((end - start >= MAX_LENGTH_US) & (start < hi) & (end >= lo)).any()):
        return None  # a visit the session rule cuts at 24 hours, where the counted visits are
    period = _periods(start, query)
    tied = np.flatnonzero(visits["unsure"] & (period == 1)) if columns else np.zeros(0, np.int64)
    fixes = _tie_values(scope, runs, visits, tied) if len(tied) else {}
    if fixes is None:
        return None
    first = pa.array(visits["first"])
    table: dict[str, Any] = {
        "person": runs.column("person").take(first),
        "period": pa.array(period),
        "pv": pa.array(visits["pageviews"]),
        "mpv": pa.array(visits["pageviews"]),
        "dur_us": pa.array(end - start),
    }
    for name in columns:  # numbered once per run, then taken by number (no text copied)
        values, taken = runs.column(name), visits["last" if name == "exit" else "first"]
        if fixes:  # a tied visit's value from its page view (web_ties.py), after the runs'
            values = pa.chunked_array([*values.chunks, pa.array(fixes[name], values.type)])
            taken = taken.copy()
            taken[tied] = runs.num_rows + np.arange(len(tied))
        coded = pc.dictionary_encode(values.combine_chunks(), null_encoding="encode")
        table[name] = coded.take(pa.array(taken))
    page_counts = _page_counts(runs, np.flatnonzero(period[visits["of_run"]] == 1)) if pages else None
    return pa.table(table), page_counts


def _tie_values(scope: Scope, runs: Any, visits: dict[str, Any], tied: Any) -> dict[str, list[Any]] | None:
    """Per visit ``tied`` (indices), in order, the values of its first page view by time, then
    messageId (entry, FIRST_VIEW) and the path of its last (exit), read from the events
    (web_ties.py); None: they could not be looked up (read every page event)."""
    import numpy as np

    person = runs.column("person").take(visits["first"][tied]).to_numpy(zero_copy_only=False)
    start, end = visits["start"][tied], visits["end"][tied]
    rows = tied_views(scope, np.concatenate([person, person]), np.concatenate([start, end]), numbered=True)
    if rows is None:
        return None
    found = first_and_last(rows)
    out: dict[str, list[Any]] = {name: [] for name in ("entry", "exit", *FIRST_VIEW)}
    for who, begun, ended in zip(person.tolist(), start.tolist(), end.tolist(), strict=True):
        if (who, begun) not in found or (
            who,
            ended,
        ) not in found:  # pragma: no cover - the runs say they are there
            return None
        entry, exit_ = found[(who, begun)][0], found[(who, ended)][1]
        out["entry"].append(entry["path"])
        out["exit"].append(exit_["path"])
        for name in FIRST_VIEW:
            out[name].append(entry[name])
    return out


def _periods(start: Any, query: WebRequest) -> Any:
    """Per visit (its first page view's time ``start``, epoch microseconds): 1 when its local day
    is in the range, 2 in the previous period with ``compare``, 0 otherwise (web_sql.period_sql):
    local days first..last are the instants from the first's midnight to the day after the last's
    (Range.utc_bounds), so no time is converted."""
    import numpy as np

    def within(first: Any, last: Any) -> Any:
        lo, hi = (int(bound.timestamp()) * 1_000_000 for bound in query.rng.utc_bounds(first, last))
        return (start >= lo) & (start < hi)

    period = np.zeros(len(start), np.int8)
    period[within(query.rng.start, query.rng.end)] = 1
    if query.compare:
        period[within(*query.previous)] = 2
    return period


def _page_counts(runs: Any, counted: Any) -> Any:
    """(person, path, n): the page views per path of the runs ``counted`` (indices)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    paths = runs.column("paths").take(pa.array(counted)).combine_chunks()
    views = pc.list_flatten(paths)
    owner = pc.list_parent_indices(paths)
    return pa.table(
        {
            "person": runs.column("person").take(pa.array(counted)).take(owner),
            "path": views.field("path"),
            "n": views.field("views"),
        }
    )


def _merge(runs: Any, detail: bool = True) -> dict[str, Any]:
    """The visits of the runs (each person's runs merged, module doc), numpy arrays: per visit its
    ``start`` and ``end`` (epoch microseconds), ``pageviews``, ``first`` and ``last`` run (indices
    of ``runs``: the run it starts with, one that ends it), ``unsure`` (its first or last page view
    is not a fact of the data); per run, ``of_run``: its visit. Without ``detail`` (the summary
    alone), only ``start``, ``end``, ``pageviews`` and ``first``.

    The runs ordered by person then start (RUNS_ORDER for the summary, time_order otherwise),
    people numbered in that order, the latest
    end before each run a running maximum per person (latest_ends; the sessions metric's merge,
    metrics/sessions.py)."""
    import numpy as np
    import pyarrow as pa

    n = runs.num_rows
    if n == 0:
        none, off = np.zeros(0, np.int64), np.zeros(0, np.bool_)
        return {
            "start": none,
            "end": none,
            "pageviews": none,
            "first": none,
            "last": none,
            "unsure": off,
            "of_run": none,
        }
    start = runs.column("start_ts").cast(pa.int64()).to_numpy()
    end = runs.column("end_ts").cast(pa.int64()).to_numpy()
    if detail:  # wide rows (the lists' columns): ordered here, by time then by person
        ids, order, _, _ = time_order(runs.column("person"), start, end)
        ids, start, end = ids[order], start[order], end[order]
    else:  # the summary's narrow rows come ordered by person, then start (RUNS_ORDER)
        person = runs.column("person").to_numpy()
        changed = np.empty(n, np.bool_)
        changed[0] = True
        changed[1:] = person[1:] != person[:-1]
        if bool((~changed[1:] & (start[1:] < start[:-1])).any()):  # pragma: no cover - DuckDB's ORDER BY
            raise RuntimeError("the visit rollup's runs are not ordered by person, then start")
        ids, order = np.cumsum(changed) - 1, np.arange(n)
    latest = latest_ends(ids, end)
    brk = np.empty(n, dtype=np.bool_)
    brk[0] = True
    brk[1:] = (ids[1:] != ids[:-1]) | (start[1:] - latest[:-1] > INACTIVITY_US)
    firsts = np.flatnonzero(brk)
    lasts = np.empty(len(firsts), np.int64)  # each visit's last run (in the order)
    lasts[:-1], lasts[-1] = firsts[1:] - 1, n - 1
    # a visit's end is the running maximum at its last run: every earlier run of the person ended
    # more than 30 minutes before the visit's start. Its page views: a difference of cumulative
    # sums (two gathers, where reduceat over millions of one-run visits was a tenth of a second).
    ends = latest[lasts]
    views = runs.column("pageviews").to_numpy().astype(np.int64, copy=False)
    if detail:
        views = views[order]
    total = np.cumsum(views)
    out = {
        "start": start[firsts],
        "end": ends,
        "pageviews": total[lasts] - total[firsts] + views[firsts],
        "first": order[firsts],
    }
    if not detail:
        return out
    visit = np.cumsum(brk) - 1
    last = end == ends[visit]  # the runs that end their visit (one, unless tied)
    ending = np.zeros(len(firsts), np.int64)
    ending[visit[last]] = np.flatnonzero(last)
    # unsure: two runs start the visit, or two end it, or its first (last) run is tied within
    second = firsts + 1
    starts_tied = np.zeros(len(firsts), np.bool_)
    inside = second < n
    inside[inside] = ~brk[second[inside]]
    starts_tied[inside] = start[second[inside]] == start[firsts[inside]]
    ends_tied = np.add.reduceat(last.astype(np.int64), firsts) > 1
    tie_first = runs.column("tie_first").to_numpy()[order[firsts]]
    tie_last = runs.column("tie_last").to_numpy()[order[ending]]
    of_run = np.empty(n, np.int64)
    of_run[order] = visit
    out.update(last=order[ending], of_run=of_run, unsure=starts_tied | ends_tied | tie_first | tie_last)
    return out
