"""The SQL of web analytics (web.py): the page events of a query in one scan, cut into visits, and
the views over the visits its answer is read from.

- ``hw_web_pages``: one row per page event (``type = 'page'``, not flagged as a bot's by the
  collector) of someone, with its person, time, path, referrer, URL, UTM, user agent, country and
  region (``context.location``), and whether
  the query's filters match it (``m``). One scan of the lake's ``context`` (every value it needs
  read in one JSON parse), ``properties`` only where the context lacks the path or the URL, and
  the filters' columns.
- ``hw_web_marks`` (web.py, row by row beside the pages): the visit of each pageview (``vid``,
  unique over the query) and whether it is the visit's first or last pageview.
- ``hw_web_visits``: one row per visit: first and last pageview, pageviews (``pv``) and those the
  filters match (``mpv``), entry and exit path, and what its first pageview says of its source (the
  referrer's domain unless it is the page's own host: computed once per distinct text), UTM,
  device, country and region; ``period``: ``c`` when it started (local day of its first pageview)
  in the range, ``p`` in the previous period with ``compare``, NULL otherwise (read only to start
  visits right).
"""

from __future__ import annotations

from datetime import date

from headwater.insights.dimensions import UA_TABLE, derived_sql
from headwater.insights.request import Filter
from headwater.insights.web_request import WebRequest
from headwater.lake.sql import quote

PAGES = "hw_web_pages"
MARKS = "hw_web_marks"
VISITS = "hw_web_visits"
#: the page events with their marks (web.py: the visit of each, whether it is its first or last
#: pageview): the two side by side, row by row
ROWS = f"(SELECT * FROM {PAGES} POSITIONAL JOIN {MARKS})"
#: the source of a visit without an outside referrer (Plausible's label)
DIRECT = "Direct / None"
#: the events web analytics reads, at the scan: page views that are not a known bot's
PAGE_EVENTS = "type = 'page' AND NOT coalesce(bot, false)"

#: what is read of ``context``, in one parse, in this order (cx[1] .. cx[10])
_CONTEXT = (
    "/page/path",
    "/page/referrer",
    "/page/url",
    "/campaign/source",
    "/campaign/medium",
    "/campaign/name",
    "/userAgent",
    "/os/name",
    "/location/country",
    "/location/region",
)
_REFERRER = "e.context->>'/page/referrer'"
_DOMAIN = derived_sql("referrer_domain")
if _REFERRER not in _DOMAIN:  # pragma: no cover - dimensions.py changed how it reads the referrer
    raise RuntimeError("insights.dimensions: referrer_domain no longer reads " + _REFERRER)

#: the visit-level breakdowns: (name in the answer, SQL over a visit ``v`` and its user agent ``u``)
VISIT_LISTS: tuple[tuple[str, str], ...] = (
    ("entry_pages", "v.entry"),
    ("exit_pages", "v.exit"),
    ("sources", f"coalesce(v.src, {quote(DIRECT)})"),
    ("utm_sources", "v.utm_source"),
    ("utm_mediums", "v.utm_medium"),
    ("utm_campaigns", "v.utm_campaign"),
    ("devices", "u.device_type"),
    ("browsers", "u.browser"),
    ("os", "coalesce(u.os, v.os_name)"),
    ("countries", "v.country"),
    ("regions", "v.region"),
)


def domain_sql(text: str) -> str:
    """The host of the URL in ``text``, lower case, without ``www.`` (NULL when none): the rule of
    the derived dimension ``referrer_domain`` (insights/dimensions.py), applied to any text."""
    return _DOMAIN.replace(_REFERRER, text)


def match_sql(conditions: list[str], query: WebRequest) -> str:
    if not conditions:
        return "true"
    return (" AND " if query.filter_match == "all" else " OR ").join(conditions)


#: derived dimensions a filter may read that the scan reads anyway (in the parse of ``context``,
#: cx): filters on them are computed from it, not by a JSON parse of their own
FROM_SCAN = {
    "path": "coalesce(cx[1], props->>'/path')",
    "utm_source": "cx[4]",
    "utm_medium": "cx[5]",
    "utm_campaign": "cx[6]",
    "referrer_domain": domain_sql("cx[2]"),
    "country": "cx[9]",
    "region": "cx[10]",
}


def pages_sql(source: str, atoms: list[tuple[str, str, bool]], joins: str, match: str) -> str:
    """SELECT of the rows of ``hw_web_pages`` from ``source`` (Scope.person_events of the page
    events, with ``context`` and ``properties``), the filters' columns (``atoms``: (alias, SQL,
    whether it is over the scan's ``cx`` and ``props``), ``joins`` for them) and the filters'
    condition over them (``match``)."""
    paths = ", ".join(quote(p) for p in _CONTEXT)
    own = "".join(f", {sql} AS {alias}" for alias, sql, scanned in atoms if not scanned)
    inner = f"""
        SELECT e.person, e.ts, json_extract_string(e.context, [{paths}]) AS cx, e.properties AS props{own}
        FROM ({source}) e
        {joins}
    """
    scanned = "".join(f", {sql} AS {alias}" for alias, sql, scanned in atoms if scanned)
    return f"""
        SELECT person, ts,
               coalesce(cx[1], props->>'/path') AS path,
               cx[2] AS ref, coalesce(cx[3], props->>'/url') AS url,
               cx[4] AS utm_source, cx[5] AS utm_medium, cx[6] AS utm_campaign,
               cx[7] AS ua, cx[8] AS os_name, cx[9] AS country, cx[10] AS region,
               coalesce({match}, false) AS m
        FROM (SELECT *{scanned} FROM ({inner}))
    """


def _between(first: date, last: date) -> str:
    return f"BETWEEN DATE {quote(first.isoformat())} AND DATE {quote(last.isoformat())}"


def visits_sql(query: WebRequest) -> str:
    """SELECT of the rows of ``hw_web_visits``: the first pageview of each visit (entry, referrer,
    UTM, user agent, country, region), with the visit's counts and its last pageview (exit)."""
    day = f"hw_day(f.ts, {quote(query.rng.tz)})"
    period = f"WHEN {day} {_between(query.rng.start, query.rng.end)} THEN 'c'"
    if query.compare:
        period += f" WHEN {day} {_between(*query.previous)} THEN 'p'"
    # the source: the referrer's domain, unless it is the page's own host; computed once per
    # distinct (referrer, URL) of the first pageviews (a few thousand, not one per visit)
    sources = f"""
        SELECT ref, url, CASE WHEN r IS DISTINCT FROM h THEN r END AS src
        FROM (SELECT ref, url, {domain_sql("ref")} AS r, {domain_sql("url")} AS h
              FROM (SELECT DISTINCT ref, url FROM {ROWS} WHERE first))
    """
    return f"""
        SELECT f.vid, f.person, CASE {period} END AS period, f.ts AS start_ts, a.end_ts, a.pv, a.mpv,
               f.path AS entry, l.path AS exit, s.src, f.utm_source, f.utm_medium, f.utm_campaign,
               f.ua, f.os_name, f.country, f.region
        FROM (SELECT * FROM {ROWS} WHERE first) f
        JOIN (SELECT vid, max(ts) AS end_ts, count(*) AS pv, count(*) FILTER (WHERE m) AS mpv
              FROM {ROWS} GROUP BY vid) a USING (vid)
        JOIN (SELECT vid, path FROM {ROWS} WHERE last) l USING (vid)
        LEFT JOIN ({sources}) s ON s.ref IS NOT DISTINCT FROM f.ref AND s.url IS NOT DISTINCT FROM f.url
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
        FROM {VISITS} v LEFT JOIN {UA_TABLE} u ON u.ua = v.ua
        WHERE v.period = 'c' AND v.mpv > 0
    """


def _counted_pages_sql() -> str:
    """The pageviews counted in the range: of a counted visit, matched by the filters."""
    return f"""
        SELECT p.person, p.path FROM {ROWS} p JOIN {VISITS} v USING (vid)
        WHERE v.period = 'c' AND p.m
    """


def top_sql(limit: int) -> str:
    """The top ``limit`` values of every breakdown: (list, rank, value, visitors, visits, pageviews,
    bounces, duration), list i a VISIT_LISTS index (len(VISIT_LISTS): pages, whose visits, bounces
    and duration are NULL); ranked by visitors, then visits, pageviews, value (NULL last)."""
    n = len(VISIT_LISTS)
    which = " ".join(f"WHEN grouping(d{i}) = 0 THEN {i}" for i in range(n))
    value = " ".join(f"WHEN grouping(d{i}) = 0 THEN d{i}" for i in range(n))
    sets = ", ".join(f"(d{i})" for i in range(n))
    grouped = f"""
        SELECT CASE {which} END AS list, CASE {value} END AS value,
               count(DISTINCT person) AS visitors, count(*) AS visits, sum(mpv) AS pageviews,
               count(*) FILTER (WHERE pv = 1) AS bounces, sum(dur) AS duration
        FROM ({_dims_sql()}) GROUP BY GROUPING SETS ({sets})
        UNION ALL
        SELECT {n}, path, count(DISTINCT person), NULL, count(*), NULL, NULL
        FROM ({_counted_pages_sql()}) GROUP BY path
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
                              (SELECT {pages} FROM ({_counted_pages_sql()}))"""


def describe_filter(f: Filter) -> dict[str, object]:
    value = list(f.value) if isinstance(f.value, tuple) else f.value
    return {"type": f.type, "name": f.name, "op": f.op, "value": value}
