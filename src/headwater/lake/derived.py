"""Derived dimensions as columns of the lake's event files, computed once, at load (docs/insights.md,
"Derived dimensions").

The daily ETL writes beside each event row (batch/etl.py, ``_write_dates``), as plain strings:

- ``d_country``, ``d_region``: ``context.location.country``, ``.region``;
- ``d_browser``, ``d_os``, ``d_device_type``: ``context.userAgent`` described by the collector's parser
  (:func:`describe`, once per distinct user agent of the day); ``d_os`` falls back on
  ``context.os.name`` (mobile SDKs send no user agent);
- ``d_utm_source``, ``d_utm_medium``, ``d_utm_campaign``: ``context.campaign.source``, ``.medium``,
  ``.name``;
- ``d_referrer_domain``: the host of ``context.page.referrer``, lower case, without ``www.``;
- ``d_host``: the same of the page's URL (``context.page.url``, else ``properties.url`` of a page
  event): web analytics' test of an outside referrer;
- ``d_path``: ``context.page.path``, else ``properties.path`` of a page event;
- ``d_library``, ``d_app_version``: ``context.library.name``, ``context.app.version``;
- ``d_version`` (UTINYINT, :data:`VERSION`): set on every row that carries the columns.

A file written before (no ``d_version``) or a monthly archive compacted from both kinds by an earlier
version (some rows without ``d_version``) is read through :func:`derived_parquet_sql`: the same rules
over the JSON of those rows only, the user agents looked up in ``UA_TABLE`` (filled by
LakeQuery.prepare_derived). The monthly archive (batch/archive.py) and ``headwater etl upgrade``
(lake/upgrade.py) write such rows with the columns (:func:`completed_sql`). The rules below are the
only definition: the ETL, the archive, the upgrade and the fallback share them, so the answers are
equal.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from headwater.events.useragent import describe_user_agent, looks_like_browser

VERSION = 1
MARK = "d_version"
#: the derived dimensions stored as columns (``d_<name>``)
NAMES = (
    "country",
    "region",
    "browser",
    "os",
    "device_type",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "referrer_domain",
    "host",
    "path",
    "library",
    "app_version",
)
COLUMNS = tuple(f"d_{n}" for n in NAMES)
#: the columns read from the description of the user agent
UA_COLUMNS = ("d_browser", "d_os", "d_device_type")
#: (ua, browser, os, device_type): each user agent described once, joined as ``u``
UA_TABLE = "hw_user_agents"
#: the host of a URL (scheme://[user@]host[:port]/...)
HOST = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)"

#: what is read of ``context``, in one parse, in this order (hw_cx[1] ..)
_CONTEXT = (
    "/location/country",
    "/location/region",
    "/userAgent",
    "/os/name",
    "/campaign/source",
    "/campaign/medium",
    "/campaign/name",
    "/page/referrer",
    "/page/url",
    "/page/path",
    "/library/name",
    "/app/version",
)
_CX = "hw_cx"


def _cx(pointer: str) -> str:
    return f"{_CX}[{_CONTEXT.index(pointer) + 1}]"


def domain_sql(text: str) -> str:
    """The host of the URL in SQL ``text``, lower case, without ``www.`` (NULL when none)."""
    return f"nullif(regexp_replace(lower(regexp_extract({text}, '{HOST}', 1)), '^www\\.', ''), '')"


_PAGE_PROPERTY = "CASE WHEN type = 'page' THEN properties->>'{}' END"
#: each column over a row with ``hw_cx`` (CONTEXT_SQL), ``type`` and ``properties``, and ``u``
#: (UA_TABLE, joined on the user agent)
_RULES = {
    "d_country": _cx("/location/country"),
    "d_region": _cx("/location/region"),
    "d_browser": "u.browser",
    "d_os": f"coalesce(u.os, {_cx('/os/name')})",
    "d_device_type": "u.device_type",
    "d_utm_source": _cx("/campaign/source"),
    "d_utm_medium": _cx("/campaign/medium"),
    "d_utm_campaign": _cx("/campaign/name"),
    "d_referrer_domain": domain_sql(_cx("/page/referrer")),
    "d_host": domain_sql(f"coalesce({_cx('/page/url')}, {_PAGE_PROPERTY.format('/url')})"),
    "d_path": f"coalesce({_cx('/page/path')}, {_PAGE_PROPERTY.format('/path')})",
    "d_library": _cx("/library/name"),
    "d_app_version": _cx("/app/version"),
}
#: the user agent of a row with ``hw_cx``
UA_SQL = _cx("/userAgent")
#: ``hw_cx`` of a row: every value the rules read of ``context``, in one JSON parse
CONTEXT_SQL = "json_extract_string(context, [" + ", ".join(f"'{p}'" for p in _CONTEXT) + "])"


def rule(column: str) -> str:
    return f"CAST(({_RULES[column]}) AS VARCHAR)"


def etl_select(source: str) -> str:
    """SELECT of every row of ``source`` (lake rows) with the derived columns and ``d_version``;
    UA_TABLE holds the description of each of their user agents."""
    derived = ", ".join(f"{rule(c)} AS {c}" for c in COLUMNS)
    return f"""
        SELECT r.* EXCLUDE ({_CX}), {derived}, CAST({VERSION} AS UTINYINT) AS {MARK}
        FROM (SELECT *, {CONTEXT_SQL} AS {_CX} FROM ({source})) r
        LEFT JOIN {UA_TABLE} u ON u.ua = r.{UA_SQL}
    """


def wanted(columns: str) -> list[str]:
    """The derived columns named in a list of columns (``"actor, ts, d_path"``)."""
    names = {c.strip() for c in columns.split(",")}
    return [c for c in COLUMNS if c in names]


def derived_parquet_sql(read: str, state: str, columns: Sequence[str]) -> str:
    """SELECT of every column of ``read`` (a read_parquet of lake files of one ``state``: old or
    mixed, see file_state) with ``columns`` (derived) computed by the rules where a row lacks them."""
    ua = any(c in UA_COLUMNS for c in columns)
    if state == "old":
        cx = f"{CONTEXT_SQL} AS {_CX}"
        computed = ", ".join(f"{rule(c)} AS {c}" for c in columns)
        select = f"r.* EXCLUDE ({_CX}), {computed}"
    else:
        cx = f"CASE WHEN {MARK} IS NULL THEN {CONTEXT_SQL} END AS {_CX}"
        computed = ", ".join(f"CASE WHEN {MARK} IS NULL THEN {rule(c)} ELSE {c} END AS {c}" for c in columns)
        select = f"r.* EXCLUDE ({_CX}) REPLACE ({computed})"
    join = f"LEFT JOIN {UA_TABLE} u ON u.ua = r.{UA_SQL}" if ua else ""
    return f"SELECT {select} FROM (SELECT *, {cx} FROM {read}) r {join}"


def completed_sql(read: str, state: str) -> str:
    """SELECT of every row of ``read`` (lake files of one ``state``) with every derived column and
    ``d_version`` set: computed by the rules where a row lacks them (the monthly archive, the lake's
    upgrade), UA_TABLE holding their user agents (:func:`agents_sql`). The columns stay in the
    order of the files, the derived ones (and ``d_version``) after the others in an old file."""
    if state == "new":
        return f"SELECT * FROM {read}"
    rows = derived_parquet_sql(read, state, COLUMNS)
    version = f"CAST({VERSION} AS UTINYINT)"
    if state == "old":
        return f"SELECT *, {version} AS {MARK} FROM ({rows})"
    return f"SELECT * REPLACE (coalesce({MARK}, {version}) AS {MARK}) FROM ({rows})"


def agents_sql(read: str, state: str) -> str:
    """SELECT of the user agent of each row of ``read`` (old or mixed files) that lacks the columns:
    what :func:`add_user_agents` describes before :func:`completed_sql` reads them."""
    where = f" WHERE {MARK} IS NULL" if state == "mixed" else ""
    return f"SELECT context->>'/userAgent' FROM {read}{where}"


def file_state(path: Path) -> str:
    """``new`` (every row carries the derived columns), ``old`` (none: written before them) or
    ``mixed`` (a monthly archive of both), from the file's footer (cached per size and time)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "new"  # gone: the reader's own error, not ours
    return _state(str(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=4096)
def _state(path: str, size: int, mtime_ns: int) -> str:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
    except (OSError, ValueError):
        return "new"  # a damaged file: the reader names it
    names = meta.schema.names
    if MARK not in names:
        return "old"
    if any(c not in names for c in COLUMNS):  # pragma: no cover - a writer of another version
        return "old"
    at = names.index(MARK)
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(at).statistics
        if stats is None or not stats.has_null_count or stats.null_count > 0:
            return "mixed"
    return "new"


def by_state(paths: Iterable[Path]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {"new": [], "mixed": [], "old": []}
    for p in paths:
        out[file_state(p)].append(p)
    return out


_TABLET = re.compile(r"ipad|tablet|kindle|silk/|playbook|sm-t\d", re.IGNORECASE)
_MOBILE = re.compile(r"mobi|iphone|ipod|android|windows phone|opera mini|blackberry|bb10", re.IGNORECASE)


def device_type(ua: str) -> str | None:
    """bot, tablet, mobile or desktop: a crawler or script first, then an iPad, a tablet or an
    Android without "Mobile" (Google's rule for tablets), then a phone, then any other browser;
    None for a user agent that is none of these (an SDK's)."""
    if describe_user_agent(ua).is_bot:
        return "bot"
    lower = ua.lower()
    if _TABLET.search(ua) or ("android" in lower and "mobile" not in lower):
        return "tablet"
    if _MOBILE.search(ua):
        return "mobile"
    return "desktop" if looks_like_browser(ua) else None


def describe(ua: str) -> tuple[str | None, str | None, str | None]:
    """(browser, os, device_type) of a user agent."""
    described = describe_user_agent(ua)
    return described.browser, described.os, device_type(ua)


def add_user_agents(con: Any, agents_sql: str) -> int:
    """Describe the user agents of ``agents_sql`` (SELECT of one text column) that UA_TABLE lacks
    (creating it) and add them: the number added."""
    import pyarrow as pa

    con.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {UA_TABLE}"
        " (ua VARCHAR, browser VARCHAR, os VARCHAR, device_type VARCHAR)"
    )
    rows = con.execute(
        f"SELECT DISTINCT a FROM ({agents_sql}) t(a)"
        f" WHERE a IS NOT NULL AND a NOT IN (SELECT ua FROM {UA_TABLE})"
    ).fetchall()
    agents = [str(r[0]) for r in rows]
    if not agents:
        return 0
    described = [describe(ua) for ua in agents]
    table = pa.table(
        {
            "ua": pa.array(agents, pa.string()),
            "browser": pa.array([d[0] for d in described], pa.string()),
            "os": pa.array([d[1] for d in described], pa.string()),
            "device_type": pa.array([d[2] for d in described], pa.string()),
        }
    )
    con.register("hw_user_agents_new", table)
    try:
        con.execute(f"INSERT INTO {UA_TABLE} SELECT * FROM hw_user_agents_new")
    finally:
        con.unregister("hw_user_agents_new")
    return len(agents)
