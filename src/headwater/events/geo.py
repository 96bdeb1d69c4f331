"""Where an event came from: ``context.location`` (Segment's place for it) from the full IP address,
looked up before the IP policy truncates or drops it (docs/collector.md, "Geography").

The lookup is a port: anything with ``lookup(ip) -> (country, region)`` (headwater.geo holds the
implementations: the built-in country lookup, a MaxMind DB file). The domain only decides what is
written, and when:

- ``country``: ISO 3166-1 alpha-2 (``KR``); ``region``: the ISO 3166-2 code of the first-level
  subdivision (``KR-11``), or its English name when the database has no code for it;
- a location the client sent wins: when ``context.location`` already holds a non-empty ``country``
  or ``region``, nothing is added (a mobile SDK's own location, a server SDK's forwarded one); a
  ``location`` that is not an object is left as it is; otherwise the lookup's keys are added beside
  the client's other keys (``city``, ``latitude`` ...);
- an address the database does not know (private, reserved, unassigned) adds nothing.
"""

from __future__ import annotations

from typing import Any, Protocol

from headwater.events.ip import bare_address

#: the lookup's answer: (ISO 3166-1 alpha-2 country, region), each None when unknown
Place = tuple[str | None, str | None]


class GeoLookup(Protocol):
    """Country and region of an IP address, from an offline database."""

    def lookup(self, ip: str) -> Place:
        """``(country, region)`` of ``ip`` (a textual address), ``(None, None)`` when unknown or when
        ``ip`` is no address; never raises for a bad address."""
        ...


def locate(context: dict[str, Any], ip: str, geo: GeoLookup) -> None:
    """Add ``context.location.country`` (and ``.region``) of ``ip`` unless the client sent a location."""
    location = context.get("location")
    if location is not None and (
        type(location) is not dict or _sent(location.get("country")) or _sent(location.get("region"))
    ):
        return
    country, region = geo.lookup(ip)
    if country is None and region is None:  # the common forms are looked up as they come; others once more
        bare = bare_address(ip)
        if bare is None or bare == ip:
            return
        country, region = geo.lookup(bare)
        if country is None and region is None:
            return
    if location is None:
        location = context["location"] = {}
    if country is not None:
        location["country"] = country
    if region is not None:
        location["region"] = region


def _sent(value: object) -> bool:
    return value is not None and value != ""
