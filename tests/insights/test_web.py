"""Web analytics (POST /api/v1/insights/web, `headwater insights web`): checked against counts by
hand over generated raw logs of page events.

- A hand-written log (``HAND``) whose every number is worked out in the comments: a bounce, a visit
  across midnight in Paris (not in UTC), an anonymous visitor identified in the middle of a visit,
  a pageview logged three times with one messageId (twice in a loaded day, once more in the day not
  loaded), an internal referrer (no source), UTM read from the first page of a visit only, a run of
  pageviews every 30 minutes for 25 hours (cut by the 24-hour rule), a bot's and nobody's pageviews
  and a track event (none counted).
- A random log (``random_log``) over six days across the Paris DST change, compared in full with a
  count in plain Python (``expected_web``), for several ranges, time zones, filters and limits.
"""

from __future__ import annotations

import json
import random
import re
import shlex
import shutil
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

import headwater.http.app as http_app
import headwater.insights.web as web_module
import headwater.insights.web_counts as web_counts
from headwater.batch.etl import run_daily
from headwater.cli.insight_web import duration
from headwater.cli.insight_web import web as web_command
from headwater.cli.metric_table import percent
from headwater.http.api.insight_web import WEB_ROUTES
from headwater.http.openapi import openapi_document
from headwater.insights.web import run_web
from tests.batch.logdata import ev, write_log
from tests.helpers import ROOT
from tests.http.asgi import ADMIN, Running, run
from tests.insights.reference import _host, _reader, derived, match, resolve

URL = "/api/v1/insights/web"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.0 Mobile/15E148 Safari/604.1"
)
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0"
SITE = "https://shop.example"


def page(
    ts: str, path: str | None, ua: str | None = None, ref: str | None = None, **kw: Any
) -> dict[str, Any]:
    """A page event as analytics.js logs it (context.page, userAgent, campaign), with the location
    the collector's geo lookup adds (``loc``: context.location)."""
    campaign = kw.pop("campaign", None)
    location = kw.pop("loc", None)
    e = ev(ts, type="page", **kw)
    pg: dict[str, Any] = {"url": f"{SITE}{path or '/'}"}
    if path is not None:
        pg["path"] = path
    if ref is not None:
        pg["referrer"] = ref
    e["context"]["page"] = pg
    if ua is not None:
        e["context"]["userAgent"] = ua
    if campaign is not None:
        e["context"]["campaign"] = campaign
    if location is not None:
        e["context"]["location"] = dict(location)
    return e


SEOUL = {"country": "KR", "region": "KR-11"}
BUSAN = {"country": "KR", "region": "KR-26"}


def hand_log() -> list[dict[str, Any]]:
    # alice: visit 1 (09:00-09:35 UTC, 3 pageviews, 2,100 s, from google.com, UTM news/email/spring;
    # the 2nd pageview's internal referrer changes nothing), in Seoul; visit 2 at 12:00, a bounce
    # whose referrer is the site itself: Direct / None, in Busan
    spring = {"source": "news", "medium": "email", "name": "spring"}
    out = [
        page(
            "2026-03-24T09:00:00.000Z",
            "/",
            CHROME,
            "https://www.Google.com/?q=x",
            user="alice",
            campaign=spring,
            loc=SEOUL,
        ),
        page("2026-03-24T09:10:00.000Z", "/pricing", CHROME, f"{SITE}/", user="alice", loc=SEOUL),
        page("2026-03-24T09:35:00.000Z", "/buy", CHROME, f"{SITE}/pricing", user="alice", loc=SEOUL),
        page(
            "2026-03-24T12:00:00.000Z",
            "/docs",
            CHROME,
            "https://www.shop.example/pricing",
            user="alice",
            loc=BUSAN,
        ),
    ]
    # bob: 23:50 Paris on 03-25 as an anonymous visitor, 00:10 Paris on 03-26 identified by that very
    # pageview: one visit of one person (1,200 s), on 03-25 in Paris (both pageviews on 03-25 in UTC);
    # his first pageview in California, his second without a location: the visit's is the first's
    out += [
        page(
            "2026-03-25T22:50:00.000Z",
            "/",
            IPHONE,
            "https://news.ycombinator.com/item?id=1",
            anon="b-anon",
            loc={"country": "US", "region": "US-CA"},
        ),
        page("2026-03-25T23:10:00.000Z", "/pricing", IPHONE, f"{SITE}/", user="bob", anon="b-anon"),
        ev("2026-03-25T23:15:00.000Z", user="bob", event="Signed Up"),
        ev("2026-03-25T23:16:00.000Z", user="bob", type="identify", traits={"plan": "pro"}),
    ]
    # carol: 03-26 08:00-08:05 UTC (300 s), UTM twitter on the first page, google on the second:
    # twitter. Her second pageview is logged three times (one messageId).
    first = page("2026-03-26T08:00:00.000Z", "/", None, None, user="carol", campaign={"source": "twitter"})
    first["properties"]["plan"] = "pro"
    first["context"]["os"] = {"name": "Android"}
    second = page(
        "2026-03-26T08:05:00.000Z", "/pricing", None, None, user="carol", campaign={"source": "google"}
    )
    late = {**second, "receivedAt": "2026-03-27T06:00:00.000Z"}
    out += [first, second, dict(second), late]
    # dave: a bounce on 03-27, the day not loaded (read from the log), in France (the built-in
    # lookup: a country, no region)
    out.append(
        page(
            "2026-03-27T07:00:00.000Z",
            "/blog",
            FIREFOX,
            "https://duckduckgo.com/",
            user="dave",
            loc={"country": "FR"},
        )
    )
    # eve: a pageview every 30 minutes (a gap of 30 minutes continues a visit) from 03-24 00:00 to
    # 03-25 01:00 UTC: 51 pageviews, cut at 24 hours into 48 (84,600 s) and 3 (3,600 s), in Seoul
    start = datetime(2026, 3, 24, tzinfo=ZoneInfo("UTC"))
    for i in range(51):
        at = (start + timedelta(minutes=30 * i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        out.append(page(at, "/loop", CHROME, None, user="eve", loc=SEOUL))
    # not counted: a bot's pageview (flagged by the collector), nobody's (a junk id)
    bot = page("2026-03-24T10:00:00.000Z", "/", CHROME, None, user="crawler")
    bot["_hw"]["bot"] = True
    out += [bot, page("2026-03-24T10:00:00.000Z", "/", CHROME, None, anon="0")]
    return out


def build(data: Path, lines: list[dict[str, Any]]) -> None:
    """Write the log and load every received day but the last."""
    days = write_log(data, lines)
    for day in days[:-1]:
        run_daily(data, day, "UTC")


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("web-hand") / "data"
    build(data, hand_log())
    return data


PARIS = {"tz": "Europe/Paris"}


def test_the_hand_log_counted_by_hand(hand: Path) -> None:
    out = run_web(hand, "UTC", {"start": "2026-03-24", "end": "2026-03-27", **PARIS})
    # visits: alice 2, bob 1, carol 1, dave 1, eve 2; pageviews 4 + 2 + 2 + 1 + 51; bounces: alice's
    # second and dave's; durations 2100 + 0 + 1200 + 300 + 0 + 84600 + 3600 = 91,800 s
    assert out["summary"] == {
        "visitors": 5,
        "visits": 7,
        "pageviews": 60,
        "views_per_visit": round(60 / 7, 6),
        "bounce_rate": round(2 / 7, 6),
        "visit_duration": round(91800 / 7, 3),
    }
    assert out["sources"] == [
        # alice's second visit (internal referrer), carol's, eve's two
        {"value": "Direct / None", "visitors": 3, "visits": 4, "pageviews": 54, "bounce_rate": 0.25,
         "visit_duration": 22125.0},
        {"value": "google.com", "visitors": 1, "visits": 1, "pageviews": 3, "bounce_rate": 0.0,
         "visit_duration": 2100.0},
        {"value": "news.ycombinator.com", "visitors": 1, "visits": 1, "pageviews": 2, "bounce_rate": 0.0,
         "visit_duration": 1200.0},
        {"value": "duckduckgo.com", "visitors": 1, "visits": 1, "pageviews": 1, "bounce_rate": 1.0,
         "visit_duration": 0.0},
    ]  # fmt: skip
    assert [(r["value"], r["visits"]) for r in out["utm_sources"]] == [
        ("$none", 5),
        ("news", 1),
        ("twitter", 1),
    ]
    assert [(r["value"], r["visitors"], r["visits"]) for r in out["entry_pages"]] == [
        ("/", 3, 3),
        ("/loop", 1, 2),
        ("/blog", 1, 1),
        ("/docs", 1, 1),
    ]
    assert [(r["value"], r["visits"]) for r in out["exit_pages"]] == [
        ("/pricing", 2),
        ("/loop", 2),
        ("/buy", 1),
        ("/blog", 1),
        ("/docs", 1),
    ]
    assert out["pages"][:3] == [
        {"value": "/", "visitors": 3, "pageviews": 3},
        {"value": "/pricing", "visitors": 3, "pageviews": 3},
        {"value": "/loop", "visitors": 1, "pageviews": 51},
    ]
    assert [(r["value"], r["visits"]) for r in out["devices"]] == [
        ("desktop", 5),
        ("mobile", 1),
        ("$none", 1),
    ]
    assert [(r["value"], r["visitors"]) for r in out["os"]] == [
        ("Linux", 2),
        ("Android", 1),
        ("iOS", 1),
        ("Windows", 1),
    ]
    # the country of a visit is its first pageview's: KR (alice's two visits, eve's two: 3 + 1 + 48
    # + 3 pageviews, alice's second a bounce, 2100 + 0 + 84600 + 3600 s), US (bob: his second
    # pageview has no location), none (carol), FR (dave's bounce)
    assert out["countries"] == [
        {"value": "KR", "visitors": 2, "visits": 4, "pageviews": 55, "bounce_rate": 0.25,
         "visit_duration": 22575.0},
        {"value": "US", "visitors": 1, "visits": 1, "pageviews": 2, "bounce_rate": 0.0,
         "visit_duration": 1200.0},
        {"value": "$none", "visitors": 1, "visits": 1, "pageviews": 2, "bounce_rate": 0.0,
         "visit_duration": 300.0},
        {"value": "FR", "visitors": 1, "visits": 1, "pageviews": 1, "bounce_rate": 1.0,
         "visit_duration": 0.0},
    ]  # fmt: skip
    # regions: KR-11 (alice's first visit, eve's two), none (carol; dave: France has no region here)
    assert [(r["value"], r["visitors"], r["visits"], r["pageviews"]) for r in out["regions"]] == [
        ("KR-11", 2, 3, 54),
        ("$none", 2, 2, 3),
        ("US-CA", 1, 1, 2),
        ("KR-26", 1, 1, 1),
    ]
    assert "countries_note" not in out
    assert out["missing_days"] == []


def test_a_visit_belongs_to_the_local_day_it_started(hand: Path) -> None:
    # 03-25 in Paris: bob's visit (both pageviews, the second after midnight) and eve's second piece
    day = run_web(hand, "UTC", {"start": "2026-03-25", "end": "2026-03-25", **PARIS})
    assert day["summary"] == {
        "visitors": 2,
        "visits": 2,
        "pageviews": 5,
        "views_per_visit": 2.5,
        "bounce_rate": 0.0,
        "visit_duration": 2400.0,
    }
    assert day["pages"] == [
        {"value": "/loop", "visitors": 1, "pageviews": 3},
        {"value": "/", "visitors": 1, "pageviews": 1},
        {"value": "/pricing", "visitors": 1, "pageviews": 1},
    ]
    # 03-26 in Paris: carol only (bob's pageview of 00:10 belongs to his visit of 03-25); her
    # pageview logged three times is one; her UTM source is her first page's
    next_day = run_web(hand, "UTC", {"start": "2026-03-26", "end": "2026-03-26", **PARIS})
    assert (next_day["summary"]["visits"], next_day["summary"]["pageviews"]) == (1, 2)
    assert next_day["utm_sources"] == [
        {"value": "twitter", "visitors": 1, "visits": 1, "pageviews": 2, "bounce_rate": 0.0,
         "visit_duration": 300.0}
    ]  # fmt: skip
    # compare: 03-26..27 against 03-24..25
    both = run_web(hand, "UTC", {"start": "2026-03-26", "end": "2026-03-27", "compare": True, **PARIS})
    assert (both["summary"]["visitors"], both["summary"]["visits"]) == (2, 2)
    previous = both["previous"]
    assert (previous["start"], previous["end"]) == ("2026-03-24", "2026-03-25")
    assert (previous["visitors"], previous["visits"], previous["pageviews"]) == (3, 5, 57)


def _summary(data: Path, filters: list[dict[str, Any]], match_: str = "all") -> dict[str, Any]:
    body = {"start": "2026-03-24", "end": "2026-03-27", "filters": filters, "filter_match": match_, **PARIS}
    return run_web(data, "UTC", body)


def test_filters_pick_pageviews_and_count_their_visits(hand: Path) -> None:
    loop = _summary(hand, [{"type": "derived", "name": "path", "op": "eq", "value": "/loop"}])
    assert loop["summary"] == {
        "visitors": 1,
        "visits": 2,
        "pageviews": 51,
        "views_per_visit": 25.5,
        "bounce_rate": 0.0,
        "visit_duration": 44100.0,
    }
    # carol's first pageview only: her visit counts whole (2 pageviews: no bounce, 300 s), its
    # matching pageview once
    pro = _summary(hand, [{"type": "event", "name": "plan", "op": "eq", "value": "pro"}])
    assert pro["summary"] == {
        "visitors": 1,
        "visits": 1,
        "pageviews": 1,
        "views_per_visit": 1.0,
        "bounce_rate": 0.0,
        "visit_duration": 300.0,
    }
    assert pro["pages"] == [{"value": "/", "visitors": 1, "pageviews": 1}]
    assert pro["exit_pages"][0]["value"] == "/pricing"
    trait = _summary(hand, [{"type": "person", "name": "plan", "op": "eq", "value": "pro"}])
    assert (trait["summary"]["visits"], trait["summary"]["pageviews"]) == (1, 2)  # bob
    either = _summary(
        hand,
        [
            {"type": "derived", "name": "path", "op": "eq", "value": "/blog"},
            {"type": "event", "name": "plan", "op": "eq", "value": "pro"},
        ],
        "any",
    )
    assert (either["summary"]["visitors"], either["summary"]["pageviews"]) == (2, 2)  # dave, carol
    firefox = _summary(hand, [{"type": "derived", "name": "browser", "op": "eq", "value": "Firefox"}])
    assert firefox["browsers"] == [
        {"value": "Firefox", "visitors": 1, "visits": 1, "pageviews": 1, "bounce_rate": 1.0,
         "visit_duration": 0.0}
    ]  # fmt: skip
    nothing = _summary(hand, [{"type": "event", "name": "never", "op": "exists"}])
    assert nothing["summary"]["visits"] == 0 and nothing["pages"] == []


def test_country_and_region_filters_by_hand(hand: Path) -> None:
    # KR: alice's two visits and eve's two, every pageview of them located in Korea
    korea = _summary(hand, [{"type": "derived", "name": "country", "op": "eq", "value": "KR"}])
    assert korea["summary"] == {
        "visitors": 2,
        "visits": 4,
        "pageviews": 55,
        "views_per_visit": 13.75,
        "bounce_rate": 0.25,
        "visit_duration": 22575.0,
    }
    assert [(r["value"], r["pageviews"]) for r in korea["regions"]] == [("KR-11", 54), ("KR-26", 1)]
    # US-CA: bob's first pageview only; his visit counts whole (2 pageviews: no bounce, 1,200 s), its
    # matching pageview once
    california = _summary(hand, [{"type": "derived", "name": "region", "op": "eq", "value": "US-CA"}])
    assert (california["summary"]["visits"], california["summary"]["pageviews"]) == (1, 1)
    assert california["summary"]["visit_duration"] == 1200.0
    assert california["pages"] == [{"value": "/", "visitors": 1, "pageviews": 1}]
    # no country: carol's two pageviews and bob's second
    unknown = _summary(hand, [{"type": "derived", "name": "country", "op": "exists", "value": False}])
    assert (unknown["summary"]["visitors"], unknown["summary"]["pageviews"]) == (2, 3)
    # ranked by pageviews matched: carol's 2, then bob's visit (in the US by its first pageview) 1
    assert [(r["value"], r["pageviews"]) for r in unknown["countries"]] == [("$none", 2), ("US", 1)]


def test_an_empty_range_answers_zeros(hand: Path) -> None:
    out = run_web(hand, "UTC", {"start": "2030-01-01", "end": "2030-01-03", "compare": True})
    zeros = {"visitors": 0, "visits": 0, "pageviews": 0, "views_per_visit": 0.0, "bounce_rate": 0.0}
    assert out["summary"] == {**zeros, "visit_duration": 0.0}
    assert out["previous"] == {"start": "2029-12-29", "end": "2029-12-31", **zeros, "visit_duration": 0.0}
    lists = ["pages", "entry_pages", "exit_pages", "sources", "utm_sources", "utm_mediums"]
    lists += ["utm_campaigns", "devices", "browsers", "os", "countries", "regions"]
    assert all(out[name] == [] for name in lists)
    assert out["missing_days"] == ["2030-01-01", "2030-01-02", "2030-01-03"]


# -- the random log, against a count in plain Python --------------------------------------------

DAYS = [date(2026, 3, 27) + timedelta(days=i) for i in range(6)]  # the last one is not loaded
PATHS = ["/", "/pricing", "/docs", "/blog", "/about", "/a.b", "/ключ", None]
REFERRERS = [
    None,
    None,
    "https://www.google.com/x",
    "https://t.co/y",
    f"{SITE}/",
    "https://SHOP.example/z",
    "no url",
]
AGENTS = [CHROME, IPHONE, FIREFOX, None]
CAMPAIGNS = [
    None,
    None,
    {"source": "news", "medium": "email", "name": "s"},
    {"source": "ads", "medium": "cpc"},
]


def random_log() -> list[dict[str, Any]]:
    rng = random.Random(1919)
    places = random.Random(3166)  # locations drawn apart: the other values stay those drawn before
    out: list[dict[str, Any]] = []
    people: list[dict[str, Any]] = [{"user": f"u{i}"} for i in range(8)] + [
        {"anon": f"a{i}"} for i in range(4)
    ]
    used: set[tuple[str, datetime]] = set()
    for day in DAYS:
        for who in people:
            for _ in range(rng.randrange(0, 3)):
                at = datetime.combine(day, time(), ZoneInfo("UTC")) + timedelta(seconds=rng.randrange(86_400))
                for _ in range(rng.randrange(1, 6)):
                    key = (str(who), at)
                    if key not in used:
                        used.add(key)
                        out.append(_located(_random_page(rng, at, who), places))
                    at += timedelta(seconds=rng.choice([7, 60, 600, 1799, 1800, 1801, 3000, 5000]))
    # a2 is identified by a pageview carrying both ids, a3 by an identify call; traits for a filter
    out.append(
        _random_page(
            rng, datetime(2026, 3, 29, 12, 0, 1, tzinfo=ZoneInfo("UTC")), {"anon": "a2", "user": "u2"}
        )
    )
    out.append(ev("2026-03-30T10:00:00.000Z", user="u9", anon="a3", type="identify", traits={"plan": "pro"}))
    for i in range(8):
        out.append(
            ev(
                f"2026-03-28T08:0{i}:00.000Z",
                user=f"u{i}",
                type="identify",
                traits={"plan": ["pro", "free", "team"][i % 3]},
            )
        )
    out.extend(
        [dict(out[5]), {**out[40], "receivedAt": f"{DAYS[-1].isoformat()}T23:00:00.000Z"}]
    )  # duplicates
    return out


PLACES: list[dict[str, Any] | None] = [
    None,
    SEOUL,
    SEOUL,
    BUSAN,
    {"country": "US", "region": "US-CA"},
    {"country": "US"},
    {"country": "FR", "region": "Île-de-France"},
]


def _located(e: dict[str, Any], places: random.Random) -> dict[str, Any]:
    where = places.choice(PLACES)
    if where is not None:
        e["context"]["location"] = dict(where)
    return e


def _random_page(rng: random.Random, at: datetime, who: dict[str, Any]) -> dict[str, Any]:
    ts = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    path = rng.choice(PATHS)
    if rng.random() < 0.1:
        e = ev(ts, type="page", props={"path": path or "/", "url": f"{SITE}{path or '/'}"}, **who)
    else:
        e = page(ts, path, rng.choice(AGENTS), rng.choice(REFERRERS), campaign=rng.choice(CAMPAIGNS), **who)
    e["properties"]["plan"] = rng.choice(["pro", "free", None])
    if rng.random() < 0.05:
        e["_hw"]["bot"] = True
    if rng.random() < 0.1:
        e = ev(ts, event="Tool Used", props={"path": "/not-a-page"}, **who)  # not a page: not counted
    return e


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    data = tmp_path_factory.mktemp("web-random") / "data"
    lines = random_log()
    build(data, lines)
    return data, lines


LISTS = ["entry_pages", "exit_pages", "sources", "utm_sources", "utm_mediums", "utm_campaigns"]
LISTS += ["devices", "browsers", "os", "countries", "regions"]


def _visit_values(v: list[dict[str, Any]]) -> dict[str, Any]:
    first = v[0]
    ctx_page = first.get("context", {}).get("page") or {}
    url = (
        ctx_page.get("url") if ctx_page.get("url") is not None else (first.get("properties") or {}).get("url")
    )
    ref = derived(first, "referrer_domain")
    return {
        "entry_pages": derived(first, "path"),
        "exit_pages": derived(v[-1], "path"),
        "sources": ref if ref is not None and ref != _host(url) else "Direct / None",
        **{f"{k}s": derived(first, k) for k in ("utm_source", "utm_medium", "utm_campaign", "browser", "os")},
        "devices": derived(first, "device_type"),
        "os": derived(first, "os"),
        "countries": derived(first, "country"),
        "regions": derived(first, "region"),
    }


def _ranked(groups: dict[Any, dict[str, Any]], limit: int, pages: bool) -> list[dict[str, Any]]:
    def row(value: Any, g: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"value": "$none" if value is None else value, "visitors": len(g["people"])}
        if pages:
            return {**out, "pageviews": g["pageviews"]}
        n = g["visits"]
        return {**out, "visits": n, "pageviews": g["pageviews"], "bounce_rate": round(g["bounces"] / n, 6),
                "visit_duration": round(g["duration"] / n, 3)}  # fmt: skip

    order = sorted(groups, key=lambda k: (-len(groups[k]["people"]), -groups[k]["visits"],
                                          -groups[k]["pageviews"], k is None, k or ""))  # fmt: skip
    rows = [row(k, groups[k]) for k in order[:limit]]
    if len(order) > limit:
        rest = [groups[k] for k in order[limit:]]
        other = {"people": set().union(*(g["people"] for g in rest))}
        other.update({f: sum(g[f] for g in rest) for f in ("visits", "pageviews", "bounces", "duration")})
        rows.append(row("$other", other))
    return rows


def expected_web(lines: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
    """The summaries and lists of a web body, by hand."""
    tz = body.get("tz") or "UTC"
    zone = ZoneInfo(tz)
    events = resolve(lines)
    read = _reader(events, body, tz)
    filters = body.get("filters", [])
    glue = all if body.get("filter_match", "all") == "all" else any
    pages = sorted(
        (e for e in events if e["type"] == "page" and e["person"] and not e["_hw"].get("bot")),
        key=lambda e: (e["person"], e["at"]),
    )
    visits: list[list[dict[str, Any]]] = []
    for e in pages:
        v = visits[-1] if visits else None
        if v and v[0]["person"] == e["person"] and e["at"] - v[-1]["at"] <= timedelta(minutes=30) \
                and e["at"] - v[0]["at"] < timedelta(hours=24):  # fmt: skip
            v.append(e)
        else:
            visits.append([e])
    start, end = date.fromisoformat(body["start"]), date.fromisoformat(body["end"])
    length = end - start + timedelta(days=1)
    periods = {"summary": (start, end), "previous": (start - length, start - timedelta(days=1))}
    out: dict[str, Any] = {}
    for name, (first, last) in periods.items():
        counted = []
        for v in visits:
            matched = [
                e
                for e in v
                if not filters
                or glue(match(f, read(e, f["type"], f["name"]), f["type"] == "event") for f in filters)
            ]
            if matched and first <= v[0]["at"].astimezone(zone).date() <= last:
                counted.append((v, matched))
        n = len(counted)
        pageviews = sum(len(m) for _, m in counted)
        duration = sum((v[-1]["at"] - v[0]["at"]).total_seconds() for v, _ in counted)
        out[name] = {
            "visitors": len({v[0]["person"] for v, _ in counted}),
            "visits": n,
            "pageviews": pageviews,
            "views_per_visit": round(pageviews / n, 6) if n else 0.0,
            "bounce_rate": round(sum(len(v) == 1 for v, _ in counted) / n, 6) if n else 0.0,
            "visit_duration": round(duration / n, 3) if n else 0.0,
        }
        if name != "summary":
            continue
        limit = body.get("limit", 10)
        new = {"people": set(), "visits": 0, "pageviews": 0, "bounces": 0, "duration": 0.0}
        by_page: dict[Any, dict[str, Any]] = {}
        for _, matched in counted:
            for e in matched:
                g = by_page.setdefault(derived(e, "path"), {**new, "people": set()})
                g["people"].add(e["person"])
                g["pageviews"] += 1
        out["pages"] = _ranked(by_page, limit, pages=True)
        for list_name in LISTS:
            groups: dict[Any, dict[str, Any]] = {}
            for v, matched in counted:
                g = groups.setdefault(_visit_values(v)[list_name], {**new, "people": set()})
                g["people"].add(v[0]["person"])
                g["visits"] += 1
                g["pageviews"] += len(matched)
                g["bounces"] += len(v) == 1
                g["duration"] += (v[-1]["at"] - v[0]["at"]).total_seconds()
            out[list_name] = _ranked(groups, limit, pages=False)
    return out


BODIES: list[dict[str, Any]] = [
    {"start": "2026-03-27", "end": "2026-04-01", "limit": 3},
    {"start": "2026-03-27", "end": "2026-04-01", "tz": "Europe/Paris", "limit": 2},
    {"start": "2026-03-30", "end": "2026-04-01", "tz": "Europe/Paris", "compare": True},
    {"start": "2026-03-27", "end": "2026-04-01", "tz": "America/New_York", "limit": 1},
    {"start": "2026-03-29", "end": "2026-03-29", "tz": "Asia/Seoul"},
    {"start": "2026-03-27", "end": "2026-04-01", "limit": 4,
     "filters": [{"type": "event", "name": "plan", "op": "eq", "value": "pro"}]},
    {"start": "2026-03-27", "end": "2026-04-01", "filter_match": "any", "limit": 2,
     "filters": [{"type": "person", "name": "plan", "op": "in", "value": ["pro", "team"]},
                 {"type": "derived", "name": "path", "op": "eq", "value": "/pricing"}]},
    {"start": "2026-03-27", "end": "2026-04-01", "tz": "Europe/Paris",
     "filters": [{"type": "derived", "name": "browser", "op": "neq", "value": "Chrome"},
                 {"type": "derived", "name": "referrer_domain", "op": "contains", "value": "o"}]},
    {"start": "2026-03-27", "end": "2026-04-01", "limit": 5,
     "filters": [{"type": "derived", "name": "utm_source", "op": "exists"}]},
    {"start": "2026-03-27", "end": "2026-04-01", "tz": "Asia/Seoul", "limit": 2,
     "filters": [{"type": "derived", "name": "country", "op": "eq", "value": "KR"}]},
    {"start": "2026-03-27", "end": "2026-04-01", "filter_match": "any",
     "filters": [{"type": "derived", "name": "region", "op": "in", "value": ["US-CA", "KR-26"]},
                 {"type": "derived", "name": "country", "op": "exists", "value": False}]},
]  # fmt: skip


@pytest.mark.parametrize("body", BODIES, ids=[str(i) for i in range(len(BODIES))])
def test_the_random_log_against_a_count_by_hand(
    generated: tuple[Path, list[dict[str, Any]]], body: dict[str, Any]
) -> None:
    data, lines = generated
    got = run_web(data, "UTC", body)
    want = expected_web(lines, body)
    assert got["summary"] == want["summary"]
    assert got["summary"]["visits"] > 0
    if body.get("compare"):
        assert {k: v for k, v in got["previous"].items() if k not in ("start", "end")} == want["previous"]
    for name in ["pages", *LISTS]:
        assert got[name] == want[name], name


def test_visits_found_a_few_people_at_a_time_are_the_same(
    generated: tuple[Path, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, lines = generated
    monkeypatch.setattr(web_module, "CHUNK_ROWS", 37)  # a dozen chunks of people, not one
    for body in (BODIES[1], BODIES[2]):
        got, want = run_web(data, "UTC", body), expected_web(lines, body)
        assert got["summary"] == want["summary"]
        assert all(got[name] == want[name] for name in ["pages", *LISTS])


@pytest.mark.parametrize("way", ["sort", "bitmap"])
def test_visitors_counted_either_way_are_the_same(
    generated: tuple[Path, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    """The distinct visitors of a list's values by a sort of (value, person) pairs (a list of
    100,000 values) or by a bitmap of values by people (a few values, many visits) are the count
    by hand."""
    data, lines = generated
    if way == "sort":
        monkeypatch.setattr(web_counts, "MATRIX_CELLS", 0)
    else:
        monkeypatch.setattr(web_counts, "MATRIX_PER_ROW", 10**9)
    taken: list[str] = []
    for name in ("_by_sort", "_by_bitmap"):
        counted = getattr(web_counts, name)
        monkeypatch.setattr(web_counts, name, lambda *a, f=counted, n=name: taken.append(n) or f(*a))
    for body in (BODIES[0], BODIES[3]):
        got, want = run_web(data, "UTC", body), expected_web(lines, body)
        assert got["summary"] == want["summary"]
        assert all(got[name] == want[name] for name in ["pages", *LISTS])
    assert set(taken) == {f"_by_{way}"} and len(taken) == 24


def test_only_the_lists_asked_for_are_answered(generated: tuple[Path, list[dict[str, Any]]]) -> None:
    data, lines = generated
    body = {**BODIES[0], "compare": True}
    whole = run_web(data, "UTC", body)
    alone = run_web(data, "UTC", {**body, "lists": []})
    assert alone["lists"] == [] and not any(name in alone for name in ["pages", *LISTS])
    assert alone["summary"] == whole["summary"] == expected_web(lines, body)["summary"]
    assert alone["previous"] == whole["previous"]
    two = run_web(data, "UTC", {**body, "lists": ["browsers", "pages", "browsers"]})
    assert two["lists"] == ["pages", "browsers"]  # in the answer's order, once each
    assert [k for k in two if k in ["pages", *LISTS]] == ["pages", "browsers"]
    assert two["pages"] == whole["pages"] and two["browsers"] == whole["browsers"]
    assert whole["lists"] == ["pages", *LISTS] and run_web(data, "UTC", {**body, "lists": None}) == whole


def test_integer_sums_are_exact_past_float_precision() -> None:
    import numpy as np

    codes = np.array([0, 1, 0, 1, 0], np.int64)
    weights = np.array([2**52 + 1, 5, 2**52 + 3, 7, 2**40 + 1], np.int64)
    assert web_counts._sums(codes, weights, 3).tolist() == [2**53 + 2**40 + 5, 12, 0]


# -- HTTP, CLI, docs ---------------------------------------------------------------------------------

RANGE = {"start": "2026-03-24", "end": "2026-03-27"}


def _filtered(kind: str, name: str, op: str, value: Any) -> dict[str, Any]:
    return {**RANGE, "filters": [{"type": kind, "name": name, "op": op, "value": value}]}


BAD: list[tuple[Any, str, str]] = [
    ({"end": "2026-03-27"}, "missing_field", "'start'"),
    ({"start": None, "end": "2026-03-27"}, "bad_field", "'start'"),
    ({"start": "2026-03-28", "end": "2026-03-27"}, "start_after_end", "'start'"),
    ({**RANGE, "tz": "Nowhere/Land"}, "unknown_timezone", "'tz'"),
    ({**RANGE, "limit": 0}, "bad_field", "'limit'"),
    ({**RANGE, "limit": "3"}, "bad_field", "'limit'"),
    ({**RANGE, "compare": "yes"}, "bad_field", "'compare'"),
    ({**RANGE, "filter_match": "some"}, "bad_field", "'filter_match'"),
    ({**RANGE, "interval": "day"}, "bad_field", "'interval'"),
    (_filtered("derived", "planet", "eq", 1), "bad_field", "'filters[0].name'"),
    (_filtered("derived", "city", "eq", "Seoul"), "bad_field", "'filters[0].name'"),
    (_filtered("event", "x", "gt", "x"), "bad_field", "'filters[0].value'"),
    (_filtered("cohort", "x", "eq", 1), "bad_field", "'filters[0].value'"),
    (_filtered("cohort", "x", "eq", True), "unknown_cohort", "'filters[0].name'"),
    ({**RANGE, "lists": "pages"}, "bad_field", "'lists'"),
    ({**RANGE, "lists": ["pages", "cities"]}, "bad_field", "'lists[1]'"),
    ({**RANGE, "lists": [3]}, "bad_field", "'lists[0]'"),
    (["2026-03-24"], "bad_body", "body"),
]


def test_the_api_answers_what_run_web_answers_and_names_every_bad_field(
    hand: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not any(r.path == URL for r in http_app.ROUTES):  # until http/routes.py lists WEB_ROUTES
        monkeypatch.setattr(http_app, "ROUTES", (*http_app.ROUTES, *WEB_ROUTES))
    shutil.copytree(hand, tmp_path / "data")
    body = {"start": "2026-03-24", "end": "2026-03-27", "limit": 2, "compare": True, **PARIS}
    want = json.loads(json.dumps(run_web(tmp_path / "data", "UTC", body)))

    async def scenario(hw: Running) -> None:
        c = hw.client
        ok = await c.post(URL, json=body, headers=ADMIN)
        assert ok.status_code == 200, ok.text
        assert ok.json() == want
        assert (await c.post(URL, json=body)).status_code == 401
        for bad, code, field in BAD:
            answer = await c.post(URL, json=bad, headers=ADMIN)
            assert answer.status_code == 400, (bad, answer.text)
            error = answer.json()["error"]
            assert error["code"] == code and field in error["message"], (bad, error)
            assert "trend" not in error["message"], error
        for raw, code in [(b"{", "invalid_json"), (b"[" * 5000 + b"]" * 5000, "bad_body")]:
            answer = await c.post(URL, content=raw, headers={**ADMIN, "Content-Type": "application/json"})
            assert answer.status_code == 400 and answer.json()["error"]["code"] == code, answer.text
        document = openapi_document([*http_app.ROUTES, *WEB_ROUTES])
        assert (
            "WebQuery" in json.dumps(document["paths"][URL])
            and "WebQuery" in document["components"]["schemas"]
        )

    run(tmp_path, scenario)


def _cli(data: Path, *args: str) -> Any:
    app = typer.Typer()
    app.command("web")(web_command)
    app.command("other")(lambda: None)  # two commands: "web" is a subcommand, as under `insights`
    return CliRunner().invoke(app, ["web", *args, "--data-dir", str(data)])


def test_the_cli_prints_the_api_json_and_tables(hand: Path) -> None:
    args = ["--start", "2026-03-24", "--end", "2026-03-27", "--tz", "Europe/Paris", "--limit", "2"]
    args += ["--filter", "derived:path=/loop,/blog", "--filter-match", "any", "--compare"]
    done = _cli(hand, *args, "--json")
    assert done.exit_code == 0, done.output
    body = {**_filtered("derived", "path", "in", ["/loop", "/blog"]), "limit": 2, "compare": True}
    body.update(filter_match="any", **PARIS)
    assert json.loads(done.output) == json.loads(json.dumps(run_web(hand, "UTC", body)))
    table = _cli(hand, *args)
    assert table.exit_code == 0 and "bounce rate" in table.output and "/loop" in table.output
    summary = json.loads(done.output)["summary"]  # shares in percent, durations in words, as on the page
    assert (
        percent(summary["bounce_rate"]) in table.output
        and duration(summary["visit_duration"]) in table.output
    )
    assert (
        str(summary["bounce_rate"]) not in table.output and str(summary["visit_duration"]) not in table.output
    )
    alone = _cli(hand, *args, "--summary-only", "--json")
    assert json.loads(alone.output) == json.loads(json.dumps(run_web(hand, "UTC", {**body, "lists": []})))
    two = _cli(hand, *args, "--list", "sources", "--list", "pages")
    assert two.exit_code == 0 and "top pages" in two.output and "sources" in two.output
    assert "exit pages" not in two.output and "countries" not in two.output
    bad = _cli(hand, "--start", "2026-03-24", "--end", "2026-03-27", "--list", "cities")
    assert bad.exit_code == 2 and "'lists[0]'" in bad.output
    bad = _cli(hand, "--start", "2026-03-24", "--end", "2026-03-27", "--filter", "derived:planet=x")
    assert bad.exit_code == 2 and "'filters[0].name'" in bad.output


def test_the_docs_examples_run_as_printed(hand: Path) -> None:
    text = (ROOT / "docs" / "insights.md").read_text()
    section = text[text.index("\n## Web analytics\n") + 1 :]
    section = section[: section.find("\n## ") if "\n## " in section else None]  # a section after it
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    commands = [
        line.strip() for b in blocks for line in b.splitlines() if line.startswith("headwater insights web")
    ]
    assert len(commands) >= 2
    for line in commands:
        args = shlex.split(line)[3:]
        done = _cli(hand, *args)
        assert done.exit_code == 0, (line, done.output)
    bodies = [json.loads(b) for b in re.findall(r"-d '(\{.*?\})'", section)]
    assert bodies
    for body in bodies:
        assert run_web(hand, "UTC", body)["insight"] == "web"
