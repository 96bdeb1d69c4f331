"""Country and region from collection to the insights: events normalized by the collector's
normalizer with a City database (and some collected before geo existed, some with the client's own
location), written to the log, two days loaded into the lake by the daily ETL and one left in the
log, then trends and web analytics by country and region, against counts written out by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from headwater.batch.etl import run_daily
from headwater.events.normalize import Normalizer, RequestInfo
from headwater.geo.mmdb import MaxMindDatabase
from headwater.insights.trend import run_trend
from headwater.insights.web import run_web
from tests.batch.logdata import write_log
from tests.geo.databases import write_city

GB, SEOUL, BUSAN, GOOGLE, PRIVATE = "81.2.69.10", "211.234.1.1", "2001:db8::9", "8.8.8.8", "10.0.0.5"


def collected(data: Path) -> list[dict[str, Any]]:
    """The log: what the collector stores of each request (geo on, except where said)."""
    geo = Normalizer(geo=MaxMindDatabase.open(str(write_city(data.parent / "City.mmdb"))))
    before = Normalizer()  # a collector of before geo: no location
    out: list[dict[str, Any]] = []

    def send(
        at: str, user: str, ip: str, kind: str = "track", normalizer: Normalizer = geo, **ctx: Any
    ) -> None:
        raw: dict[str, Any] = {"type": kind, "userId": user, "context": ctx}
        if kind == "track":
            raw["event"] = "Clicked"
        else:
            raw["context"]["page"] = {"path": "/", "url": "https://shop.example/"}
        received = datetime.fromisoformat(at).replace(tzinfo=UTC)
        out.append(normalizer.normalize(raw, RequestInfo(received_at=received, source="web", ip=ip)))

    send("2026-05-04T09:00:00", "u1", GB)
    send("2026-05-04T09:30:00", "u1", GB)
    send("2026-05-06T09:00:00", "u1", GB)  # the day not loaded: read from the log
    send("2026-05-04T10:00:00", "u2", SEOUL)
    send("2026-05-05T10:00:00", "u2", SEOUL)
    send("2026-05-05T11:00:00", "u3", BUSAN)
    send("2026-05-04T12:00:00", "u4", SEOUL, normalizer=before)  # stored before geo: no country
    send("2026-05-06T12:00:00", "u4", SEOUL)
    send("2026-05-05T13:00:00", "u5", GOOGLE, location={"country": "FR", "region": "FR-IDF"})  # the client's
    send("2026-05-04T14:00:00", "u6", PRIVATE)  # no country for a private address
    send("2026-05-06T15:00:00", "u7", GOOGLE)
    # pageviews: u1 in England; u2 a visit of two in Seoul; u3 in Busan (not loaded); u6 nowhere
    send("2026-05-04T10:00:00", "u1", GB, "page")
    send("2026-05-05T10:00:00", "u2", SEOUL, "page")
    send("2026-05-05T10:05:00", "u2", SEOUL, "page")
    send("2026-05-06T11:00:00", "u3", BUSAN, "page")
    send("2026-05-05T14:00:00", "u6", PRIVATE, "page")
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("geo-insights") / "data"
    events = collected(data)
    assert all(e["context"].get("ip", "").endswith((".0", "::")) for e in events)  # truncated, stored
    days = write_log(data, events)
    for day in days[:-1]:
        run_daily(data, day, "UTC")
    return data


RANGE = {"start": "2026-05-04", "end": "2026-05-06"}
CLICKED = [{"event": "Clicked", "measure": "users"}, {"event": "Clicked", "measure": "events"}]


def _values(out: dict[str, Any]) -> dict[tuple[str, str, str], Any]:
    return {(r["date"], r["breakdown"], r["series"]): r["value"] for r in out["rows"]}


def test_a_trend_broken_down_by_country(data: Path) -> None:
    body = {
        **RANGE,
        "interval": "range",
        "series": CLICKED,
        "breakdown": {"type": "derived", "name": "country"},
    }
    out = run_trend(data, "UTC", body)
    # KR: u2, u3, u4 (its event of 05-06; the one of 05-04 was stored before geo); $none: u4's first
    # and u6's; then one user each, ranked by events (GB: 3), then by value
    assert out["breakdown_values"] == ["KR", "$none", "GB", "FR", "US"]
    assert _values(out) == {
        ("2026-05-04", "KR", "A"): 3, ("2026-05-04", "KR", "B"): 4,
        ("2026-05-04", "$none", "A"): 2, ("2026-05-04", "$none", "B"): 2,
        ("2026-05-04", "GB", "A"): 1, ("2026-05-04", "GB", "B"): 3,
        ("2026-05-04", "FR", "A"): 1, ("2026-05-04", "FR", "B"): 1,
        ("2026-05-04", "US", "A"): 1, ("2026-05-04", "US", "B"): 1,
    }  # fmt: skip


def test_a_trend_filtered_by_region(data: Path) -> None:
    seoul = [{"type": "derived", "name": "region", "op": "eq", "value": "KR-11"}]
    body = {**RANGE, "interval": "range", "series": CLICKED, "filters": seoul}
    body["breakdown"] = {"type": "derived", "name": "country"}
    assert _values(run_trend(data, "UTC", body)) == {
        ("2026-05-04", "KR", "A"): 2,  # u2 and u4 (05-06)
        ("2026-05-04", "KR", "B"): 3,
    }
    korea = [{"type": "derived", "name": "region", "op": "in", "value": ["KR-11", "KR-26"]}]
    daily = run_trend(data, "UTC", {**RANGE, "series": CLICKED[:1], "filters": korea})
    assert [r["value"] for r in daily["rows"]] == [1, 2, 1]  # u2; u2 and u3; u4
    unknown = [{"type": "derived", "name": "country", "op": "exists", "value": False}]
    nobody = run_trend(data, "UTC", {**RANGE, "interval": "range", "series": CLICKED, "filters": unknown})
    assert [r["value"] for r in nobody["rows"]] == [2, 2]  # u4's event from before geo, u6's


def test_web_analytics_countries(data: Path) -> None:
    out = run_web(data, "UTC", {**RANGE, "limit": 2})
    assert out["summary"]["visits"] == 4 and out["summary"]["pageviews"] == 5
    assert out["countries"] == [
        {"value": "KR", "visitors": 2, "visits": 2, "pageviews": 3, "bounce_rate": 0.5,
         "visit_duration": 150.0},
        {"value": "GB", "visitors": 1, "visits": 1, "pageviews": 1, "bounce_rate": 1.0,
         "visit_duration": 0.0},
        {"value": "$other", "visitors": 1, "visits": 1, "pageviews": 1, "bounce_rate": 1.0,
         "visit_duration": 0.0},
    ]  # fmt: skip
    # regions: KR-11 (u2's visit of two pageviews), then one pageview each: GB-ENG before KR-26
    # (value order), KR-26 and u6's none in $other
    assert [(r["value"], r["visitors"]) for r in out["regions"]] == [
        ("KR-11", 1),
        ("GB-ENG", 1),
        ("$other", 2),
    ]
