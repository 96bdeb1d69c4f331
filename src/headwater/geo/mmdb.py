"""A MaxMind DB file (``HEADWATER_GEOIP_DATABASE``), read by MaxMind's own reader (``maxminddb``,
its C extension, the file memory-mapped: every worker process maps the same pages).

Records in MaxMind's layout, which DB-IP's files share: ``country.iso_code`` and, in a City
database, ``subdivisions[0]`` (the largest subdivision): its ``iso_code`` makes the region's ISO
3166-2 code (``KR`` + ``11``: ``KR-11``), else its English name. A Country database gives the
country only.

Opening checks what a user can get wrong, each a GeoDatabaseError of one line: no such file, a
file that cannot be read, a file that is not a MaxMind DB, a database that holds no location (an
ASN or ISP database: none of a few well-known public addresses has a country in it).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import maxminddb

from headwater.events.geo import Place
from headwater.geo.errors import GeoDatabaseError

SETTING = "setting 'geoip_database' (env HEADWATER_GEOIP_DATABASE)"
FIX = (
    "give the path of a MaxMind DB file with locations (GeoLite2-City.mmdb, GeoIP2-City.mmdb, a"
    " Country one, or DB-IP's .mmdb), or leave it empty for the built-in country lookup"
)
#: public resolvers and registries' own servers: a location database knows the country of some
PROBES = ("8.8.8.8", "9.9.9.9", "193.0.6.139", "202.12.27.33", "211.234.0.1", "2001:4860:4860::8888")
#: answers kept per process, by address: a City record takes ~10 us to decode (every name in eight
#: languages), a cached answer ~0.1 us, and the same visitors send event after event; each entry
#: is ~180 bytes (the places themselves are shared), so ~3 MB per process
CACHE_SIZE = 16384
#: readers opened in this process, by path: an import's worker processes open each file once
_OPEN: dict[str, Any] = {}


class MaxMindDatabase:
    """Country and region of an address from a MaxMind DB file."""

    def __init__(self, path: str, reader: Any) -> None:
        self.path = path
        self._reader = reader
        meta = reader.metadata()
        built = datetime.fromtimestamp(int(meta.build_epoch), UTC).date().isoformat()
        self.database_type = str(meta.database_type)
        self.description = f"{self.database_type} built {built} ({path})"
        self._places: dict[Place, Place] = {}  # each distinct answer kept once
        self._cached = lru_cache(maxsize=CACHE_SIZE)(self._place)

    @classmethod
    def open(cls, path: str) -> MaxMindDatabase:
        """The database at ``path``; GeoDatabaseError (one line: what to fix) when it cannot serve."""
        full = os.path.abspath(os.path.expanduser(path))
        reader = _OPEN.get(full)
        if reader is None:
            reader = _open_reader(full)
            db = cls(full, reader)
            db._check_locations()
            _OPEN[full] = reader
            return db
        return cls(full, reader)

    def lookup(self, ip: str) -> Place:
        return self._cached(ip)

    def _place(self, ip: str) -> Place:
        try:
            found = place(self._reader.get(ip))
        except ValueError:  # not an address
            return None, None
        except maxminddb.InvalidDatabaseError:  # a damaged part of the file: this address is unknown
            return None, None
        return self._places.setdefault(found, found)

    def _check_locations(self) -> None:
        try:
            records = [self._reader.get(ip) for ip in PROBES]
        except maxminddb.InvalidDatabaseError as exc:
            raise GeoDatabaseError(f"{SETTING}: {self.path} is damaged ({_reason(exc)}): {FIX}") from None
        if any(r is not None for r in records) and not any(place(r)[0] for r in records):
            raise GeoDatabaseError(
                f"{SETTING}: {self.path} ({self.database_type}) holds no country (an ASN or ISP"
                f" database?): {FIX}"
            )

    def __reduce__(self) -> tuple[Any, ...]:  # to an import's worker processes: reopened by path
        return (MaxMindDatabase.open, (self.path,))


def place(record: object) -> Place:
    """(country, region) of a record in MaxMind's layout; None for what it lacks."""
    if not isinstance(record, dict):
        return None, None
    found = record.get("country")
    country = _text(found.get("iso_code")) if isinstance(found, dict) else None
    region: str | None = None
    subdivisions = record.get("subdivisions")
    if isinstance(subdivisions, list) and subdivisions and isinstance(subdivisions[0], dict):
        first = subdivisions[0]
        code = _text(first.get("iso_code"))
        if code is not None and country is not None:
            region = f"{country}-{code}"
        else:
            names = first.get("names")
            region = _text(names.get("en")) if isinstance(names, dict) else None
    return country, region


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _open_reader(path: str) -> Any:
    if not os.path.exists(path):
        raise GeoDatabaseError(f"{SETTING}: {path} does not exist: {FIX}")
    if os.path.isdir(path):
        raise GeoDatabaseError(f"{SETTING}: {path} is a directory: {FIX}")
    if not os.access(path, os.R_OK):
        raise GeoDatabaseError(f"{SETTING}: {path} cannot be read by this user: fix its permissions")
    try:
        return maxminddb.open_database(path)
    except maxminddb.InvalidDatabaseError:
        raise GeoDatabaseError(f"{SETTING}: {path} is not a MaxMind DB file: {FIX}") from None
    except (OSError, ValueError) as exc:
        raise GeoDatabaseError(f"{SETTING}: {path} cannot be opened ({_reason(exc)}): {FIX}") from None


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
