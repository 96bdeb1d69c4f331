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
#: the page events with their marks (web.py: the visit of each, whether it is its first or last
#: pageview): the two side by side, row by row
ROWS = f"(SELECT * FROM {PAGES} POSITIONAL JOIN {MARKS})"
#: the source of a visit without an outside referrer (Plausible's label)
DIRECT = "Direct / None"
#: the visit lists: (name in the answer, column of hw_web_visits, what its NULL reads as)
VISIT_LISTS: tuple[tuple[str, str, str | None], ...] = (
    ("entry_pages", "entry", None),
    ("exit_pages", "exit", None),
    ("sources", "src", DIRECT),
    ("utm_sources", "utm_source", None),
    ("utm_mediums", "utm_medium", None),
    ("utm_campaigns", "utm_campaign", None),
    ("devices", "device_type", None),
    ("browsers", "browser", None),
    ("os", "os", None),
    ("countries", "country", None),
    ("regions", "region", None),
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


def counted_sql(columns: list[str]) -> str:
    """The rows of hw_web_visits as web_counts.py reads them (its module doc), with ``columns``."""
    listed = "".join(f", {c}" for c in columns)
    return f"""
        SELECT person, (CASE period WHEN 'c' THEN 1 WHEN 'p' THEN 2 ELSE 0 END)::TINYINT AS period,
               pv, mpv, epoch_us(end_ts) - epoch_us(start_ts) AS dur_us{listed}
        FROM {VISITS}
    """


def page_counts_sql() -> str:
    """(person, path, n): the pageviews counted in the range (of a counted visit, matched by the
    filters), per person and path."""
    return f"""
        SELECT p.person, p.path, count(*) AS n FROM {ROWS} p JOIN {VISITS} v USING (vid)
        WHERE v.period = 'c' AND p.m GROUP BY ALL
    """


def describe_filter(f: Filter) -> dict[str, object]:
    value = list(f.value) if isinstance(f.value, tuple) else f.value
    return {"type": f.type, "name": f.name, "op": f.op, "value": value}
