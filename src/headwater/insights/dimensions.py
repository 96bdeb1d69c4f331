"""The derived dimensions a lake row answers, as SQL over the event row ``e`` (and ``u``, the table of
the user agents met, for browser, os and device type):

- country, region: ``context.location.country``, ``.region``: Segment's place, filled at collection
  from the full IP (events/geo.py) unless the client sent a location; events collected before
  that (or with geo off) have none;
- browser, os, device_type: ``context.userAgent`` described by the collector's parser (uap-core
  rules); os falls back on ``context.os.name`` (mobile SDKs send no user agent);
- utm_source, utm_medium, utm_campaign: ``context.campaign.source``, ``.medium``, ``.name``;
- referrer_domain: the host of ``context.page.referrer``, lower case, without ``www.``;
- path: ``context.page.path``, else ``properties.path`` of a page event;
- library, app_version: ``context.library.name``, ``context.app.version``; tool_id: its column.

The lake keeps the raw user agent (``context.userAgent``), not the collector's description of it:
a query that reads browser, os or device type first lists the distinct user agents of its events,
describes each once (:func:`describe`), and joins the table of descriptions (``UA_TABLE``).
"""

from __future__ import annotations

import re

from headwater.events.useragent import describe_user_agent, looks_like_browser

UA_DIMENSIONS = ("browser", "os", "device_type")
UA_TABLE = "hw_insight_ua"
UA_SQL = "(e.context->>'/userAgent')"
#: the host of a URL (scheme://[user@]host[:port]/...)
_HOST = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)"

_DERIVED_SQL = {
    "country": "e.context->>'/location/country'",
    "region": "e.context->>'/location/region'",
    "browser": "u.browser",
    "os": "coalesce(u.os, e.context->>'/os/name')",
    "device_type": "u.device_type",
    "utm_source": "e.context->>'/campaign/source'",
    "utm_medium": "e.context->>'/campaign/medium'",
    "utm_campaign": "e.context->>'/campaign/name'",
    "referrer_domain": (
        "nullif(regexp_replace(lower(regexp_extract(e.context->>'/page/referrer', "
        f"'{_HOST}', 1)), '^www\\.', ''), '')"
    ),
    "path": "coalesce(e.context->>'/page/path', CASE WHEN e.type = 'page' THEN e.properties->>'/path' END)",
    "library": "e.context->>'/library/name'",
    "app_version": "e.context->>'/app/version'",
    "tool_id": "e.tool_id",
}

#: the lake's columns each derived dimension reads
DERIVED_COLUMNS: dict[str, tuple[str, ...]] = {
    **{name: ("context",) for name in _DERIVED_SQL},
    "path": ("context", "type", "properties"),
    "tool_id": ("tool_id",),
}

_TABLET = re.compile(r"ipad|tablet|kindle|silk/|playbook|sm-t\d", re.IGNORECASE)
_MOBILE = re.compile(r"mobi|iphone|ipod|android|windows phone|opera mini|blackberry|bb10", re.IGNORECASE)


def derived_sql(name: str) -> str:
    """The text of derived dimension ``name`` (one of request.DERIVED) in SQL."""
    return f"({_DERIVED_SQL[name]})"


def ua_join() -> str:
    return f"LEFT JOIN {UA_TABLE} u ON u.ua = {UA_SQL}"


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
