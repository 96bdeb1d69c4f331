"""Country and region at collection (events/geo.py, headwater/geo/): the built-in lookup, a MaxMind
City database written here, the normalizer adding ``context.location`` from the full IP before the
IP policy truncates or drops it, a client's own location kept, and an unusable database refused
with one line."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from headwater.config import Settings
from headwater.events.geo import locate
from headwater.events.normalize import Normalizer, RequestInfo
from headwater.geo import GeoDatabaseError, open_geo
from headwater.geo.builtin import BuiltinCountries
from headwater.geo.mmdb import MaxMindDatabase
from tests.geo.databases import CITY, write_asn, write_city

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_city(tmp_path_factory.mktemp("geo") / "City.mmdb")


# Addresses whose registry allocation has not moved in decades: Google's public resolver (ARIN, US),
# the RIPE NCC's own servers (NL), the M root server of WIDE in Tokyo (APNIC, JP), Google's IPv6
# resolver (US). What the built-in lookup says of them is what the registries' files say.
STABLE = {
    "8.8.8.8": "US",
    "193.0.6.139": "NL",
    "202.12.27.33": "JP",
    "2001:4860:4860::8888": "US",
}


@pytest.mark.parametrize(("ip", "country"), list(STABLE.items()))
def test_the_built_in_lookup_gives_the_country(ip: str, country: str) -> None:
    assert BuiltinCountries().lookup(ip) == (country, None)


@pytest.mark.parametrize(
    "ip", ["10.1.2.3", "127.0.0.1", "192.168.0.1", "::1", "fe80::1", "x", "", "8.8.8.8:80"]
)
def test_the_built_in_lookup_knows_no_private_address_nor_text(ip: str) -> None:
    assert BuiltinCountries().lookup(ip) == (None, None)


def test_the_default_settings_choose_the_built_in_lookup_and_false_none() -> None:
    assert isinstance(open_geo(Settings()), BuiltinCountries)
    assert open_geo(Settings(geoip=False)) is None
    assert open_geo(Settings(geoip=False, geoip_database="/nowhere.mmdb")) is None  # off: not read


def test_a_city_database_gives_country_and_region(city: Path) -> None:
    db = open_geo(Settings(geoip_database=str(city)))
    assert isinstance(db, MaxMindDatabase) and "GeoLite2-City" in db.description
    assert db.lookup("81.2.69.142") == ("GB", "GB-ENG")
    assert db.lookup("211.234.10.20") == ("KR", "KR-11")
    assert db.lookup("2001:db8::1") == ("KR", "KR-26")
    assert db.lookup("89.160.20.112") == ("SE", "Östergötland")  # no ISO code: the English name
    assert db.lookup("100.64.0.1") == ("JP", None)  # a record with a country only
    assert db.lookup("1.2.3.4") == (None, None)  # not in the database
    assert db.lookup("not an address") == (None, None)
    for network, place in CITY.items():
        first = network.split("/")[0]
        assert db.lookup(first) == place, network


def test_forms_of_an_address_are_looked_up_as_the_address(city: Path) -> None:
    db = MaxMindDatabase.open(str(city))
    for ip in ["::ffff:81.2.69.142", " 81.2.69.142 ", "[2001:db8::7]"]:
        context: dict[str, Any] = {}
        locate(context, ip, db)
        assert context["location"]["country"] in ("GB", "KR"), ip
    nothing: dict[str, Any] = {}
    locate(nothing, "[not an address]", db)
    assert nothing == {}


def test_lookups_survive_pickling_to_an_import_worker(city: Path) -> None:
    for geo in (BuiltinCountries(), MaxMindDatabase.open(str(city))):
        normalizer = pickle.loads(pickle.dumps(Normalizer(geo=geo)))
        assert normalizer.geo is not None and normalizer.geo.lookup("8.8.8.8")[0] == "US"


# -- the normalizer: the full address looked up, then the policy --------------------------------------


def _collect(normalizer: Normalizer, context: dict[str, Any] | None = None, ip: str = "81.2.69.142") -> Any:
    event: dict[str, Any] = {"type": "track", "event": "Clicked", "userId": "u1"}
    if context is not None:
        event["context"] = context
    return normalizer.normalize(event, RequestInfo(received_at=NOW, source="web", ip=ip))["context"]


def test_the_country_is_kept_while_the_policy_truncates_or_drops_the_ip(city: Path) -> None:
    db = MaxMindDatabase.open(str(city))
    truncated = _collect(Normalizer(ip_policy="truncate", geo=db))
    assert truncated["ip"] == "81.2.69.0" and truncated["location"] == {"country": "GB", "region": "GB-ENG"}
    dropped = _collect(Normalizer(ip_policy="drop", geo=db))
    assert "ip" not in dropped and dropped["location"] == {"country": "GB", "region": "GB-ENG"}
    # the full address is what is looked up: 198.51.100.200 is in the database's 198.51.100.128/25,
    # its truncation 198.51.100.0 is not
    assert db.lookup("198.51.100.0") == (None, None)
    half = _collect(Normalizer(geo=db), ip="198.51.100.200")
    assert half == {"ip": "198.51.100.0", "location": {"country": "NZ", "region": "NZ-AUK"}}
    sdk = _collect(Normalizer(geo=db), {"ip": "211.234.200.9"}, ip="127.0.0.1")  # a server SDK's
    assert sdk == {"ip": "211.234.200.0", "location": {"country": "KR", "region": "KR-11"}}
    builtin = _collect(Normalizer(geo=BuiltinCountries()), ip="8.8.8.8")
    assert builtin == {"ip": "8.8.8.0", "location": {"country": "US"}}


def test_a_location_the_client_sent_is_kept(city: Path) -> None:
    normalizer = Normalizer(geo=MaxMindDatabase.open(str(city)))
    mobile = {"country": "FR", "city": "Lyon"}
    assert _collect(normalizer, {"location": dict(mobile)})["location"] == mobile
    region_only = {"region": "Île-de-France"}
    assert _collect(normalizer, {"location": dict(region_only)})["location"] == region_only
    odd = _collect(normalizer, {"location": "Seoul"})  # not an object: left as it is, nothing added
    assert odd["location"] == "Seoul"
    # a location without country or region: the lookup's keys are added beside the client's
    city_only = _collect(normalizer, {"location": {"city": "London", "country": ""}})
    assert city_only["location"] == {"city": "London", "country": "GB", "region": "GB-ENG"}


def test_no_lookup_no_location() -> None:
    assert "location" not in _collect(Normalizer(geo=None))
    assert "location" not in _collect(Normalizer(geo=BuiltinCountries()), ip="10.0.0.1")
    assert "location" not in _collect(Normalizer(geo=BuiltinCountries()), ip="")


# -- a database that cannot serve: one line that says what to fix ------------------------------------


def test_an_unusable_database_is_refused_with_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mmdb"
    garbage.write_bytes(b"not a maxmind database\n" * 100)
    empty = tmp_path / "empty.mmdb"
    empty.write_bytes(b"")
    cases = {
        str(tmp_path / "missing.mmdb"): "does not exist",
        str(tmp_path): "is a directory",
        str(garbage): "is not a MaxMind DB file",
        str(empty): "is not a MaxMind DB file",
        str(write_asn(tmp_path / "asn.mmdb")): "holds no country",
    }
    for path, reason in cases.items():
        with pytest.raises(GeoDatabaseError) as caught:
            open_geo(Settings(geoip_database=path))
        message = str(caught.value)
        assert reason in message and path in message, message
        assert "HEADWATER_GEOIP_DATABASE" in message and "\n" not in message, message
