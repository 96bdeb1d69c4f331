"""Which time zone names every layer accepts: the settings, the metrics' ``tz``, the CLI."""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

#: Files of the zoneinfo folder that ZoneInfo reads but that are no zone DuckDB knows.
_NOT_ZONES = ("localtime", "posixrules")
_NOT_ZONE_FOLDERS = ("posix/", "right/")


@cache
def _listed_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone that Python and DuckDB both know: ZoneInfo also opens
    files of the zoneinfo folder that are no zone of DuckDB's (``localtime``, ``posixrules``,
    ``right/UTC``...), and a metric asking DuckDB for one of them fails."""
    if not name or name in _NOT_ZONES or name.startswith(_NOT_ZONE_FOLDERS):
        return False
    listed = _listed_zones()
    if listed and name not in listed:  # (a system without the list: ZoneInfo alone decides)
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
