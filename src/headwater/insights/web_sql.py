"""The SQL of web analytics (web.py): the page events of a query in one scan, cut into visits, and
the views over the visits its answer is read from.

- ``hw_web_pages``: one row per page event (``type = 'page'``, not flagged as a bot's by the
  collector) of someone, with its person, time, and the derived dimensions the ETL wrote for it
  (lake/derived.py: path, referrer domain, the page's own host, UTM, browser, os, device type,
  country and region; NULL before the range, where nothing reads them), and whether the query's
  filters match it (``m``). One scan of those
  columns (no JSON: files older than them and the log not loaded yet are read by the same rules,
  LakeQuery.prepare_derived) and of the filters' columns.
- ``hw_web_marks`` (web.py, row by row beside the pages): the visit of each pageview (``vid``,
  unique over the query) and whether it is the visit's first or last pageview.
- ``hw_web_visits``: one row per visit: first and last pageview, pageviews (``pv``) and those the
  filters match (``mpv``), entry and exit path, and what its first pageview says of its source (the
  referrer's domain unless it is the page's own host), UTM, device, browser, os, country and
  region; ``period``: ``c`` when it started (local day of its first pageview) in the range, ``p``
  in the previous period with ``compare``, NULL otherwise (read only to start visits right).
"""

from __future__ import annotations

from datetime import date

from headwater.insights.request import Filter
from headwater.insights.web_request import WebRequest
from headwater.lake.rollups.visits import PAGE_COLUMNS, source_sql
from headwater.lake.sql import quote

PAGES = "hw_web_pages"
MARKS = "hw_web_marks"
VISITS = "hw_web_visits"
#: (person, path, n): the page views counted in the range, n of a path at a time (web_rollup.py
#: reads them from the visit rollup's runs)
PAGE_COUNTS = "hw_web_page_counts"
#: the page events with their marks (web.py: the visit of each, whether it is its first or last
#: pageview): the two side by side, row by row
ROWS = f"(SELECT * FROM {PAGES} POSITIONAL JOIN {MARKS})"
#: the source of a visit without an outside referrer (Plausible's label)
DIRECT = "Direct / None"
#: the visit-level breakdowns: (name in the answer, SQL over a visit ``v``)
VISIT_LISTS: tuple[tuple[str, str], ...] = (
    ("entry_pages", "v.entry"),
    ("exit_pages", "v.exit"),
    ("sources", f"coalesce(v.src, {quote(DIRECT)})"),
    ("utm_sources", "v.utm_source"),
    ("utm_mediums", "v.utm_medium"),
    ("utm_campaigns", "v.utm_campaign"),
    ("devices", "v.device_type"),
    ("browsers", "v.browser"),
    ("os", "v.os"),
    ("countries", "v.country"),
    ("regions", "v.region"),
)


def match_sql(conditions: list[str], query: WebRequest) -> str:
    if not conditions:
        return "true"
    return (" AND " if query.filter_match == "all" else " OR ").join(conditions)


def pages_sql(source: str, atoms: list[tuple[str, str]], joins: str, match: str, since: str) -> str:
    """SELECT of the rows of ``hw_web_pages`` from ``source`` (Scope.person_events of the page
    events, with PAGE_COLUMNS), the filters' columns (``atoms``: (alias, SQL), ``joins`` for them)
    and the filters' condition over them (``match``). Only the pageviews from ``since`` (the
    range's first instant) keep their values: the earlier ones (the previous period, the days
    before) only start or end visits and count in the previous period's summary, so their
    values are never read (NULL: a third less to write)."""
    own = "".join(f", {sql} AS {alias}" for alias, sql in atoms)
    columns = ", ".join(
        f"CASE WHEN e.ts >= {since} THEN e.{column} END AS {name}" for column, name in PAGE_COLUMNS.items()
    )
    return f"""
        SELECT person, ts, {", ".join(PAGE_COLUMNS.values())}, coalesce({match}, false) AS m
        FROM (SELECT e.person, e.ts, {columns}{own} FROM ({source}) e {joins})
    """


def _between(first: date, last: date) -> str:
    return f"BETWEEN DATE {quote(first.isoformat())} AND DATE {quote(last.isoformat())}"


def period_sql(query: WebRequest, start: str) -> str:
    """A visit's ``period`` from the time of its first pageview ``start`` (module doc)."""
    day = f"hw_day({start}, {quote(query.rng.tz)})"
    period = f"WHEN {day} {_between(query.rng.start, query.rng.end)} THEN 'c'"
    if query.compare:
        period += f" WHEN {day} {_between(*query.previous)} THEN 'p'"
    return f"CASE {period} END"


def visits_sql(query: WebRequest) -> str:
    """SELECT of the rows of ``hw_web_visits``: the first pageview of each visit (entry, source,
    UTM, device, browser, os, country, region), with the visit's counts and its last pageview (exit)."""
    return f"""
        SELECT f.vid, f.person, {period_sql(query, "f.ts")} AS period, f.ts AS start_ts, a.end_ts, a.pv,
               a.mpv, f.path AS entry, a.exit, {source_sql("f")} AS src,
               f.utm_source, f.utm_medium, f.utm_campaign, f.browser, f.os, f.device_type, f.country,
               f.region
        FROM (SELECT * FROM {ROWS} WHERE first) f
        JOIN (SELECT vid, max(ts) AS end_ts, count(*) AS pv, count(*) FILTER (WHERE m) AS mpv,
                     any_value(path) FILTER (WHERE last) AS exit
              FROM {ROWS} GROUP BY vid) a USING (vid)
    """


def summary_sql() -> str:
    """(period, visitors, visits, pageviews, bounces, seconds of all visits) per period."""
    return f"""
        SELECT period, count(DISTINCT person), count(*), sum(mpv), count(*) FILTER (WHERE pv = 1),
               sum(epoch(end_ts - start_ts))
        FROM {VISITS} WHERE period IS NOT NULL AND mpv > 0 GROUP BY period
    """


def _dims_sql() -> str:
    """The counted visits with the value of every visit-level breakdown (d0, d1, ...)."""
    dims = ", ".join(f"{sql} AS d{i}" for i, (_, sql) in enumerate(VISIT_LISTS))
    return f"""
        SELECT v.person, v.pv, v.mpv, epoch(v.end_ts - v.start_ts) AS dur, {dims}
        FROM {VISITS} v
        WHERE v.period = 'c' AND v.mpv > 0
    """


def page_counts_sql() -> str:
    """The rows of ``hw_web_page_counts``: the pageviews counted in the range (of a counted visit,
    matched by the filters), one at a time."""
    return f"""
        SELECT p.person, p.path, 1 AS n FROM {ROWS} p JOIN {VISITS} v USING (vid)
        WHERE v.period = 'c' AND p.m
    """


def top_sql(limit: int) -> str:
    """The top ``limit`` values of every breakdown: (list, rank, value, visitors, visits, pageviews,
    bounces, duration), list i a VISIT_LISTS index (len(VISIT_LISTS): pages, whose visits, bounces
    and duration are NULL); ranked by visitors, then visits, pageviews, value (NULL last)."""
    n = len(VISIT_LISTS)
    values = ", ".join(f"d{i}" for i in range(n))
    # one row per (visit, breakdown): every list grouped at once (a GROUPING SETS of the 11 took half
    # as long again)
    grouped = f"""
        SELECT list, value, count(DISTINCT person) AS visitors, count(*) AS visits, sum(mpv) AS pageviews,
               count(*) FILTER (WHERE pv = 1) AS bounces, sum(dur) AS duration
        FROM (SELECT person, pv, mpv, dur, unnest(range({n})) AS list, unnest([{values}]) AS value
              FROM ({_dims_sql()}))
        GROUP BY list, value
        UNION ALL
        SELECT {n}, path, count(DISTINCT person), NULL, sum(n), NULL, NULL
        FROM {PAGE_COUNTS} GROUP BY path
    """
    rank = "row_number() OVER (PARTITION BY list ORDER BY visitors DESC, visits DESC, pageviews DESC, value)"
    return f"""
        SELECT list, {rank} AS r, value, visitors, visits, pageviews, bounces, duration
        FROM ({grouped}) QUALIFY r <= {int(limit)}
    """


def _kept(column: str, values: list[str | None]) -> str:
    """Whether ``column`` is one of ``values`` (None: NULL), never NULL itself."""
    texts = [quote(v) for v in values if v is not None]
    parts = [f"coalesce({column} IN ({', '.join(texts)}), false)"] if texts else []
    if None in values:
        parts.append(f"{column} IS NULL")
    return "(" + " OR ".join(parts) + ")" if parts else "false"


def rest_sql(kept: dict[int, list[str | None]]) -> str:
    """One row: per breakdown (VISIT_LISTS, then pages) the distinct visitors of the values not
    kept (``kept``: list index -> the values kept), the visitors of ``$other``: never a sum."""
    n = len(VISIT_LISTS)
    visits = ", ".join(
        f"count(DISTINCT person) FILTER (WHERE NOT {_kept(f'd{i}', kept.get(i, []))})" for i in range(n)
    )
    pages = f"count(DISTINCT person) FILTER (WHERE NOT {_kept('path', kept.get(n, []))})"
    return f"""SELECT * FROM (SELECT {visits} FROM ({_dims_sql()})),
                              (SELECT {pages} FROM {PAGE_COUNTS})"""


def describe_filter(f: Filter) -> dict[str, object]:
    value = list(f.value) if isinstance(f.value, tuple) else f.value
    return {"type": f.type, "name": f.name, "op": f.op, "value": value}
