"""The geo lookups behind :class:`headwater.events.geo.GeoLookup` (docs/collector.md, "Geography").

- the built-in one (:mod:`headwater.geo.builtin`): the country of an address from the Regional
  Internet Registries' delegation files, compiled into the ``iptocc`` package: no file, no
  configuration, no network; no region;
- a MaxMind DB file (:mod:`headwater.geo.mmdb`), ``HEADWATER_GEOIP_DATABASE``: MaxMind's GeoLite2 or
  GeoIP2 City (country and region) or Country, or DB-IP's files in the same format, read by
  MaxMind's own reader (memory-mapped: several worker processes share its pages).

Each driver is imported only when chosen. :func:`open_geo` is what a process calls at start; a
database that cannot be used is a :class:`GeoDatabaseError` whose message is the one line to print.
"""

from __future__ import annotations

from headwater.config import Settings
from headwater.events.geo import GeoLookup
from headwater.geo.errors import GeoDatabaseError


def open_geo(settings: Settings) -> GeoLookup | None:
    """The lookup the settings choose: None when geo is off, the MaxMind DB file when one is
    configured (GeoDatabaseError when it is missing, unreadable or no location database), else
    the built-in country lookup."""
    if not settings.geoip:
        return None
    if settings.geoip_database:
        from headwater.geo.mmdb import MaxMindDatabase

        return MaxMindDatabase.open(settings.geoip_database)
    from headwater.geo.builtin import BuiltinCountries

    return BuiltinCountries()


def describe_geo(geo: GeoLookup | None) -> str:
    """What fills ``context.location``, for the start-up log."""
    if geo is None:
        return "off"
    return str(getattr(geo, "description", type(geo).__name__))


__all__ = ["GeoDatabaseError", "describe_geo", "open_geo"]
