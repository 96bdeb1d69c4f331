"""Small MaxMind DB files for the geo tests, written with mmdb-writer in MaxMind's City layout (the
records of GeoLite2-City: ``country.iso_code``, ``subdivisions[].iso_code`` and ``names``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet


def _city(country: str, code: str | None, name: str) -> dict[str, Any]:
    sub: dict[str, Any] = {"names": {"en": name, "de": name}}
    if code is not None:
        sub["iso_code"] = code
    return {
        "country": {"iso_code": country, "names": {"en": country}},
        "registered_country": {"iso_code": country},
        "subdivisions": [sub, {"iso_code": "X", "names": {"en": "a smaller subdivision"}}],
        "city": {"names": {"en": name}},
        "location": {"latitude": 1.5, "longitude": 2.5},
    }


#: network -> (country, region as stored) of the City test database
CITY: dict[str, tuple[str, str]] = {
    "81.2.69.0/24": ("GB", "GB-ENG"),
    "211.234.0.0/16": ("KR", "KR-11"),
    "2001:db8::/32": ("KR", "KR-26"),
    "8.8.8.0/24": ("US", "US-CA"),
    "89.160.20.0/24": ("SE", "Östergötland"),  # a subdivision without a code: its English name
    "198.51.100.128/25": ("NZ", "NZ-AUK"),  # half a /24: its addresses truncated are outside it
}
_RECORDS = {
    "81.2.69.0/24": _city("GB", "ENG", "England"),
    "211.234.0.0/16": _city("KR", "11", "Seoul"),
    "2001:db8::/32": _city("KR", "26", "Busan"),
    "8.8.8.0/24": _city("US", "CA", "California"),
    "89.160.20.0/24": _city("SE", None, "Östergötland"),
    "198.51.100.128/25": _city("NZ", "AUK", "Auckland"),
}


def write_city(path: Path) -> Path:
    """A City database of the networks of CITY (an IPv6 tree holding IPv4, as MaxMind's are)."""
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    for network, record in _RECORDS.items():
        writer.insert_network(IPSet([network]), record)
    writer.insert_network(IPSet(["100.64.0.0/24"]), {"country": {"iso_code": "JP"}})  # a country only
    writer.to_db_file(str(path))
    return path


def write_asn(path: Path) -> Path:
    """An ASN database (no location): a valid MaxMind DB that cannot tell a country."""
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True)
    record = {"autonomous_system_number": 15169, "autonomous_system_organization": "GOOGLE"}
    writer.insert_network(IPSet(["8.8.8.0/24", "9.9.9.0/24"]), record)
    writer.to_db_file(str(path))
    return path
