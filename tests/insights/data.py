"""A generated raw log for the trend tests: nine received days (2026-03-24 .. 04-01, across the
Paris DST change of 03-29 and the month's end), loaded by the daily ETL but for the last day (read
from the log, not yet loaded), with what the trends must get right:

- identity: visitor a1 is anonymous for days, then identified as u9 (an identify carrying both ids);
  anonymousId "0" is a junk id (an event of nobody);
- dedup: some events are logged twice with one messageId (in one day's file, and a loaded event
  again in the unloaded day's file);
- time zones: events at 22:30 and 23:30 UTC (the next day in Paris) and 03:00 UTC (the day before
  in New York);
- properties with keys that are not JSON paths (``a.b``, ``$price``, quotes, brackets, unicode), a
  numeric property with strings and nulls among its values, an array property;
- context: user agents of several browsers and devices (a crawler, none), UTM campaigns,
  referrers, page paths, libraries and app versions; traits (plan, company) set by identify calls;
  locations (``context.location``, as the collector's geo lookup writes them, or as a client sent
  them: a region's name, a city only, a location that is no object) drawn from a random generator
  of their own, so the other values are those drawn before locations were added.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from headwater.batch.etl import run_daily
from tests.batch.logdata import ev, write_log

FIRST = date(2026, 3, 24)
DAYS = [FIRST + timedelta(days=i) for i in range(9)]  # 03-24 .. 04-01; the last is not loaded
USERS = [f"u{i}" for i in range(1, 9)]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    None,
]
CAMPAIGNS = [
    None,
    {"source": "newsletter", "medium": "email", "name": "spring"},
    {"source": "google", "medium": "cpc", "name": "brand"},
]
REFERRERS = [None, "https://www.Google.com/search?q=x", "https://news.ycombinator.com/item?id=1", "not a url"]
PATHS = ["/", "/pricing", "/docs/start"]
WEIRD = ["a.b", "$price", "quo'te\"s", "[0]", "ключ"]
HOURS = ["03:00", "09:15", "14:40", "22:30", "23:30"]
LOCATIONS: list[Any] = [
    None,  # collected before geo, or an address no database knows
    None,
    {"country": "KR", "region": "KR-11"},
    {"country": "KR", "region": "KR-26"},
    {"country": "KR", "region": "KR-11"},
    {"country": "US", "region": "US-CA"},
    {"country": "US"},  # the built-in lookup: no region
    {"country": "FR", "region": "Île-de-France"},  # a client's own (a region's name)
    {"city": "Lyon"},
    "Seoul",  # not an object: no country, no region
]


def _context(rng: random.Random, e: dict[str, Any], places: random.Random) -> None:
    ctx = e["context"]
    location = places.choice(LOCATIONS)
    if location is not None:
        ctx["location"] = dict(location) if isinstance(location, dict) else location
    agent = rng.choice(AGENTS)
    if agent is not None:
        ctx["userAgent"] = agent
    campaign = rng.choice(CAMPAIGNS)
    if campaign is not None:
        ctx["campaign"] = campaign
    page: dict[str, Any] = {}
    referrer = rng.choice(REFERRERS)
    if referrer is not None:
        page["referrer"] = referrer
    if rng.random() < 0.5:
        page["path"] = rng.choice(PATHS)
    if page:
        ctx["page"] = page
    if rng.random() < 0.8:
        ctx["library"] = {"name": rng.choice(["analytics.js", "analytics-python"]), "version": "1"}
    if rng.random() < 0.5:
        ctx["app"] = {"version": rng.choice(["1.2.0", "1.3.0"])}
    if agent is None and rng.random() < 0.5:
        ctx["os"] = {"name": "iOS"}


def _props(rng: random.Random) -> dict[str, Any]:
    props: dict[str, Any] = {}
    plan = rng.choice(["pro", "free", "team", None, "missing"])
    if plan != "missing":
        props["plan"] = plan
    duration = rng.choice([5, 12.5, 40, 100, 250, "fast", None, "missing"])
    if duration != "missing":
        props["duration_ms"] = duration
    for key in WEIRD:
        if rng.random() < 0.4:
            props[key] = rng.choice([1, 2, "x", "y"])
    if rng.random() < 0.3:
        props["tags"] = rng.sample(["a", "b", "c", 7], 2)
    if rng.random() < 0.2:
        props["path"] = rng.choice(PATHS)
    return props


def events() -> list[dict[str, Any]]:
    """The log, in the order written (duplicates included)."""
    rng = random.Random(19)
    places = random.Random(3166)
    out: list[dict[str, Any]] = []
    for day in DAYS:
        for user in [*USERS, "a1", "a2", "0"]:
            for _ in range(rng.randrange(0, 5)):
                hour = rng.choice(HOURS)
                ts = f"{day.isoformat()}T{hour}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z"
                kind = rng.choice(["track", "track", "track", "page"])
                name = rng.choice(["Tool Used", "Tool Used", "Signed Up"])
                who: dict[str, Any] = {"anon": user} if user in ("a1", "a2", "0") else {"user": user}
                e = ev(
                    ts, event=name, type=kind, props=_props(rng), tool=rng.choice([None, "t1", "t2"]), **who
                )
                _context(rng, e, places)
                out.append(e)
        if day in (DAYS[1], DAYS[5]):  # traits change over time: the latest by the range's end counts
            for i, user in enumerate(USERS):
                plan = ["pro", "free", "team"][(i + DAYS.index(day)) % 3]
                traits = {"plan": plan, "company": f"c{i % 3}"}
                out.append(
                    ev(f"{day.isoformat()}T08:{i:02d}:00.000Z", user=user, type="identify", traits=traits)
                )
    # a1 is identified as u9 on 03-30 (its earlier events count for u9)
    out.append(ev("2026-03-30T10:00:00.000Z", user="u9", anon="a1", type="identify", traits={"plan": "pro"}))
    # duplicates: one in the same day's file, one of a loaded event again in the unloaded day's file
    same_day = dict(out[3])
    late_copy = dict(out[10])
    late_copy["receivedAt"] = f"{DAYS[-1].isoformat()}T12:00:00.000Z"
    out.extend([same_day, late_copy])
    return out


def build(data_dir: Path) -> list[dict[str, Any]]:
    """Write the log and load every received day but the last; the events written."""
    written = events()
    write_log(data_dir, written)
    for day in DAYS[:-1]:
        run_daily(data_dir, day, "UTC")
    return written


def received_days(written: list[dict[str, Any]]) -> set[date]:
    return {datetime.fromisoformat(e["receivedAt"].replace("Z", "+00:00")).date() for e in written}
