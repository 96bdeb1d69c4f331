"""The derived dimensions a lake row answers, as SQL over the event row ``e``:

- country, region: ``context.location.country``, ``.region``: Segment's place, filled at collection
  from the full IP (events/geo.py) unless the client sent a location; events collected before
  that (or with geo off) have none;
- browser, os, device_type: ``context.userAgent`` described by the collector's parser (uap-core
  rules); os falls back on ``context.os.name`` (mobile SDKs send no user agent);
- utm_source, utm_medium, utm_campaign: ``context.campaign.source``, ``.medium``, ``.name``;
- referrer_domain: the host of ``context.page.referrer``, lower case, without ``www.``;
- path: ``context.page.path``, else ``properties.path`` of a page event;
- library, app_version: ``context.library.name``, ``context.app.version``; tool_id: its column.

Each is a column the daily ETL writes at load (``d_<name>``, lake/derived.py: the rules, and how
files written before them and the log not loaded yet are read). A query reads those columns only;
it calls LakeQuery.prepare_derived before it reads them (FilterColumns.source).
"""

from __future__ import annotations

from headwater.lake.derived import COLUMNS, describe

#: derived dimension -> the lake's column holding it
_COLUMN = {c.removeprefix("d_"): c for c in COLUMNS if c != "d_host"} | {"tool_id": "tool_id"}

#: the lake's columns each derived dimension reads
DERIVED_COLUMNS: dict[str, tuple[str, ...]] = {name: (column,) for name, column in _COLUMN.items()}

__all__ = ["DERIVED_COLUMNS", "derived_sql", "describe"]  # describe: the rule of browser, os, device_type


def derived_sql(name: str) -> str:
    """The text of derived dimension ``name`` (one of request.DERIVED) in SQL."""
    return f"(e.{_COLUMN[name]})"
