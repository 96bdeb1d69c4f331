"""Trends of events and unique users, filtered and broken down by derived dimensions, traits and
cohorts, read the ETL's dimension-day rollup (insights/trend_rollup.py) instead of the events: the
same answers as the events read, over the generated log (identity merge, duplicates, a day still
in the log, a DST day) loaded in two project zones; and the rollup follows a deletion and a
per-event retention."""

from __future__ import annotations

import copy
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from headwater.batch.etl import run_daily
from headwater.config import Settings
from headwater.insights.request import parse_trend
from headwater.insights.trend import run_trend
from headwater.insights.trend_rollup import rollup_source
from headwater.lake.erase import erase_from_lake
from headwater.lake.layout import Lake
from headwater.lake.scope import Scope
from headwater.privacy.retention import apply_privacy_retention
from tests.batch.logdata import write_log
from tests.helpers import cli
from tests.insights.data import DAYS, events
from tests.insights.test_trend_truth import CASES

START, END = "2026-03-25", "2026-04-01"
USERS = {"event": None, "measure": "users"}
TOOL = {"event": "Tool Used", "measure": "users"}


def _f(kind: str, name: str, op: str, value: Any = None) -> dict[str, Any]:
    out = {"type": kind, "name": name, "op": op}
    if value is not None:
        out["value"] = value
    return out


QUERIES: dict[str, dict[str, Any]] = {
    "any-by-browser": {
        "series": [USERS, {"event": None, "measure": "events"}],
        "breakdown": {"type": "derived", "name": "browser"},
    },
    "library-by-os": {
        "series": [USERS],
        "filters": [_f("derived", "library", "eq", "analytics.js")],
        "breakdown": {"type": "derived", "name": "os"},
        "limit": 2,
    },
    "tool-by-country-week": {
        "series": [TOOL, {"event": "Signed Up", "measure": "events"}],
        "filters": [
            _f("derived", "device_type", "in", ["mobile", "tablet"]),
            _f("derived", "utm_source", "exists"),
        ],
        "filter_match": "any",
        "breakdown": {"type": "derived", "name": "country"},
        "interval": "week",
    },
    "tool-id-any-event": {
        "series": [USERS],
        "filters": [_f("derived", "tool_id", "eq", "t1")],
        "breakdown": {"type": "derived", "name": "referrer_domain"},
        "interval": "range",
    },
    "by-tool-id": {
        "series": [{"event": None, "measure": "events"}],
        "breakdown": {"type": "derived", "name": "tool_id"},
    },
    "trait-compare": {
        "series": [TOOL],
        "filters": [_f("person", "plan", "eq", "pro")],
        "breakdown": {"type": "derived", "name": "app_version"},
        "compare": True,
    },
    "by-trait-month": {
        "series": [USERS, TOOL],
        "breakdown": {"type": "person", "name": "company"},
        "interval": "month",
        "formula": "B / A",
    },
    "series-filter": {
        "series": [
            TOOL,
            {"event": "Tool Used", "measure": "users", "filters": [_f("derived", "region", "eq", "KR-11")]},
        ],
        "breakdown": {"type": "derived", "name": "utm_campaign"},
    },
    "region-neq": {
        "series": [{"event": "Signed Up", "measure": "events"}],
        "filters": [_f("derived", "region", "neq", "KR-11"), _f("derived", "utm_medium", "exists", False)],
    },
}


def _steady(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The log with each person's context of a day that of their first event that day (one
    browser, place and campaign a day, as people mostly have): the rollup's rows then stand for
    several events each (the generated log draws a context per event)."""
    first: dict[tuple[Any, str], dict[str, Any]] = {}
    out = []
    for line in lines:
        key = (line.get("userId") or line.get("anonymousId"), line["timestamp"][:10])
        context = first.setdefault(key, line["context"])
        out.append({**line, "context": copy.deepcopy(context)})
    return out


def _build(data: Path, tz: str, steady: bool = False) -> None:
    write_log(data, _steady(events()) if steady else events())
    for day in DAYS[:-1]:
        run_daily(data, day, tz)


def _uses_rollup(data: Path, tz: str, body: dict[str, Any]) -> bool:
    query = parse_trend(body, tz)
    first = query.previous[0] if query.compare else query.rng.start
    with Scope(data, query.rng) as scope:
        return rollup_source(scope, query, first) is not None


def _answers(data: Path, tz: str) -> dict[str, dict[str, Any]]:
    return {
        name: run_trend(data, tz, {"start": START, "end": END, "tz": tz, **body})
        for name, body in QUERIES.items()
    }


def _without_rollup(data: Path, copy: Path) -> Path:
    shutil.copytree(data, copy)
    shutil.rmtree(copy / "lake" / "dimension_days")
    return copy


@pytest.mark.parametrize(("tz", "steady"), [("Europe/Paris", False), ("UTC", False), ("Europe/Paris", True)])
def test_the_rollup_answers_as_the_events(tmp_path: Path, tz: str, steady: bool) -> None:
    data = tmp_path / "data"
    _build(data, tz, steady)
    if steady:  # rows that stand for several events (else summing them is not tested)
        assert max(r[-2] for r in _rollup_rows(data) if not r[0]) > 1
    slow = _without_rollup(data, tmp_path / "slow")
    body = {"start": START, "end": END, "tz": tz}
    assert all(_uses_rollup(data, tz, {**body, **q}) for q in QUERIES.values())  # the path tested
    assert not any(_uses_rollup(slow, tz, {**body, **q}) for q in QUERIES.values())
    fast = _answers(data, tz)
    assert fast == _answers(slow, tz)
    assert all(any(r["value"] for r in a["rows"]) for a in fast.values()), "a query that counts nothing"
    # another zone than the rollup's, a property, a sum, a page path: the events
    other = "Asia/Seoul" if tz == "UTC" else "UTC"
    assert not _uses_rollup(data, other, {**body, "tz": other, **QUERIES["library-by-os"]})
    for extra in (
        {"series": [USERS], "filters": [_f("event", "plan", "eq", "pro")]},
        {"series": [{"event": None, "measure": "sum", "property": "duration_ms"}]},
        {"series": [USERS], "breakdown": {"type": "derived", "name": "path"}},
    ):
        assert not _uses_rollup(data, tz, {**body, **extra})


def test_the_truth_cases_that_read_the_rollup(lake: tuple[Path, list[dict[str, Any]]]) -> None:
    """tests/insights/test_trend_truth.py checks these against the count by hand: through the rollup."""
    data, _ = lake
    read = {
        name
        for name, case in CASES.items()
        if _uses_rollup(data, "UTC", {"start": "2026-03-27", "end": "2026-04-01", **case})
    }
    want = {"events", "users", "any-event", "week", "month", "range", "derived-filters", "person-eq"}
    want |= {"country-by-region", "breakdown-country", "geo-ops"}
    assert want <= read
    assert not read & {"eq", "sum", "p50", "derived-more", "paris", "weird-breakdown"}


def _rollup_rows(data: Path) -> list[tuple[Any, ...]]:
    files = sorted(str(p) for p in (data / "lake" / "dimension_days").glob("*.parquet"))
    con = duckdb.connect()
    try:
        return con.execute(f"SELECT * FROM read_parquet({files!r}) ORDER BY ALL").fetchall()
    finally:
        con.close()


def test_a_deletion_and_a_retention_reach_the_rollup(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _build(data, "UTC")
    lake = Lake(data / "lake")
    before = _rollup_rows(data)
    erase_from_lake(lake, ["u9"])  # a1's events too: the identity map merges them
    after = _rollup_rows(data)
    assert len(after) < len(before)
    slow = _without_rollup(data, tmp_path / "slow")
    assert _answers(data, "UTC") == _answers(slow, "UTC")
    # per-event retention: the rows of "Signed Up" before the cutoff leave the rollup too
    settings = Settings(data_dir=data, event_retention_days={"Signed Up": 3})
    report = apply_privacy_retention(settings, date(2026, 3, 31))
    assert report["dimension_days_rewritten"]["Signed Up"]
    assert apply_privacy_retention(settings, date(2026, 3, 31)) == {}  # nothing more to cut
    slow = _without_rollup(data, tmp_path / "slow-again")
    signed = {"start": "2026-03-24", "end": END, "series": [{"event": "Signed Up", "measure": "events"}]}
    got = run_trend(data, "UTC", {**signed, "breakdown": {"type": "derived", "name": "browser"}})
    assert got == run_trend(slow, "UTC", {**signed, "breakdown": {"type": "derived", "name": "browser"}})
    assert _uses_rollup(data, "UTC", {**signed, "breakdown": {"type": "derived", "name": "browser"}})
    days = {r["date"] for r in got["rows"] if r["value"]}
    assert days and min(days) >= "2026-03-28"  # nothing left before the cutoff


def test_a_lake_without_the_rollup_gets_it_at_the_next_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _build(data, "Europe/Paris")
    before = _rollup_rows(data)
    shutil.rmtree(data / "lake" / "dimension_days")
    result = run_daily(data, DAYS[-1], "Europe/Paris")  # the last day: every other day's rollup back
    assert result.backfilled == {"dimension_days": [d.isoformat() for d in DAYS[:-1]]}
    paris = {"HEADWATER_TIMEZONE": "Europe/Paris"}
    again = cli(data, "etl", "daily", "--date", DAYS[-1].isoformat(), env=paris)  # as the CLI says it
    assert "rollup written" not in again.stdout  # nothing left to write
    shutil.rmtree(data / "lake" / "dimension_days")
    shown = cli(data, "etl", "daily", "--date", DAYS[-1].isoformat(), env=paris)
    assert f"dimension_days rollup written for {len(DAYS) - 1} earlier received days" in shown.stdout
    after = _rollup_rows(data)
    assert len(list((data / "lake" / "dimension_days").glob("*.parquet"))) == len(DAYS)
    assert set(before) <= set(after) and len(after) > len(before)


def test_a_rollup_written_from_files_older_than_the_derived_columns(tmp_path: Path) -> None:
    """A lake written before the derived columns (some of its daily files) gets the rollup from its
    rows by the ETL's rules, their user agents described first: the same answers as the events
    read, which compute them the same way."""
    from headwater.lake.derived import file_state
    from tests.insights.test_derived_columns import strip

    data = tmp_path / "data"
    _build(data, "UTC", steady=True)
    lake = Lake(data / "lake")
    march = [p for p in lake.event_files() if "date=2026-03-2" in str(p)]
    for path in march[::2]:
        strip(path)
    assert {file_state(p) for p in lake.event_files()} == {"old", "new"}
    shutil.rmtree(data / "lake" / "dimension_days")
    run_daily(data, DAYS[-1], "UTC")  # writes the rollup of every earlier received day back
    slow = _without_rollup(data, tmp_path / "slow")
    body = {"start": START, "end": END, "tz": "UTC"}
    assert all(_uses_rollup(data, "UTC", {**body, **q}) for q in QUERIES.values())
    assert _answers(data, "UTC") == _answers(slow, "UTC")
