"""Every trend against the count by hand (tests/insights/reference.py) over the generated raw log
(tests/insights/data.py: loaded days and an unloaded one, duplicates, an anonymous visitor later
identified, a DST day): every measure, interval, filter op, filter_match, breakdown (top N, $other,
$none), formula, compare and time zone, row for row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from headwater.insights.trend import run_trend
from tests.insights.reference import expected, resolve

START, END = "2026-03-27", "2026-04-01"
TOOL = {"event": "Tool Used", "measure": "users"}


def _ev(name: str, op: str, value: Any = None, kind: str = "event") -> dict[str, Any]:
    out = {"type": kind, "name": name, "op": op}
    if op != "exists" or value is not None:
        out["value"] = value
    return out


CASES: dict[str, dict[str, Any]] = {
    # measures
    "events": {"series": [{"event": "Tool Used", "measure": "events"}]},
    "users": {"series": [TOOL]},
    "any-event": {"series": [{"event": None, "measure": "users"}, {"event": None, "measure": "events"}]},
    "sum": {"series": [{"event": "Tool Used", "measure": "sum", "property": "duration_ms"}]},
    "avg": {"series": [{"event": "Tool Used", "measure": "avg", "property": "duration_ms"}]},
    "p50": {"series": [{"event": None, "measure": "p50", "property": "duration_ms"}]},
    "p90": {
        "series": [{"event": "Tool Used", "measure": "p90", "property": "duration_ms"}],
        "interval": "week",
    },
    # intervals (weeks from Monday, months, the whole range; the first bucket clipped to the start)
    "week": {"series": [TOOL], "interval": "week"},
    "month": {"series": [TOOL], "interval": "month"},
    "range": {"series": [TOOL, {"event": "Signed Up", "measure": "events"}], "interval": "range"},
    # time zones: Paris over its DST day (03-29 has 23 hours), New York
    "paris": {"series": [TOOL, {"event": None, "measure": "events"}], "tz": "Europe/Paris"},
    "new-york-week": {"series": [TOOL], "tz": "America/New_York", "interval": "week"},
    # every op on event properties (typed as the audience rules compare)
    "eq": {"series": [TOOL], "filters": [_ev("plan", "eq", "pro")]},
    "eq-number": {"series": [TOOL], "filters": [_ev("duration_ms", "eq", 40)]},
    "eq-float": {"series": [TOOL], "filters": [_ev("duration_ms", "eq", 12.5)]},
    "eq-null": {"series": [TOOL], "filters": [_ev("plan", "eq", None)]},
    "neq": {"series": [TOOL], "filters": [_ev("plan", "neq", "pro")]},
    "in": {"series": [TOOL], "filters": [_ev("plan", "in", ["pro", "team"])]},
    "gt": {"series": [TOOL], "filters": [_ev("duration_ms", "gt", 12.5)]},
    "lt": {"series": [TOOL], "filters": [_ev("duration_ms", "lt", 41)]},
    "contains-text": {"series": [TOOL], "filters": [_ev("plan", "contains", "r")]},
    "contains-array": {"series": [TOOL], "filters": [_ev("tags", "contains", "a")]},
    "contains-array-number": {"series": [TOOL], "filters": [_ev("tags", "contains", 7)]},
    "exists": {"series": [TOOL], "filters": [_ev("duration_ms", "exists")]},
    "not-exists": {"series": [TOOL], "filters": [_ev("duration_ms", "exists", False)]},
    # names that are keys, never JSON paths or SQL
    "weird-keys": {
        "series": [{"event": None, "measure": "events"}],
        "filters": [
            _ev("a.b", "eq", 1),
            _ev("$price", "exists"),
            _ev("quo'te\"s", "in", ["x", 2]),
            _ev("[0]", "neq", "y"),
            _ev("ключ", "exists"),
        ],
        "filter_match": "any",
    },
    "weird-breakdown": {
        "series": [{"event": None, "measure": "events"}],
        "breakdown": {"type": "event", "name": "ключ"},
    },
    # filter_match
    "all": {"series": [TOOL], "filters": [_ev("plan", "eq", "pro"), _ev("duration_ms", "gt", 10)]},
    "any": {
        "series": [TOOL],
        "filters": [_ev("plan", "eq", "pro"), _ev("duration_ms", "gt", 10)],
        "filter_match": "any",
    },
    # derived dimensions and person traits (text)
    "derived-filters": {
        "series": [{"event": None, "measure": "events"}],
        "filters": [
            _ev("browser", "eq", "Chrome", "derived"),
            _ev("device_type", "in", ["mobile", "tablet"], "derived"),
            _ev("utm_source", "eq", "newsletter", "derived"),
        ],
        "filter_match": "any",
    },
    "derived-more": {
        "series": [TOOL],
        "filters": [
            _ev("referrer_domain", "eq", "google.com", "derived"),
            _ev("app_version", "exists", False, "derived"),
            _ev("path", "contains", "doc", "derived"),
            _ev("library", "neq", "analytics.js", "derived"),
            _ev("tool_id", "eq", "t1", "derived"),
        ],
        "filter_match": "any",
    },
    # country and region (context.location, filled at collection from the IP): a breakdown by country
    # of one region's users, per region of one country, and the ops on them
    "country-by-region": {
        "series": [TOOL, {"event": None, "measure": "events"}],
        "filters": [_ev("region", "eq", "KR-11", "derived")],
        "breakdown": {"type": "derived", "name": "country"},
    },
    "breakdown-country": {
        "series": [{"event": None, "measure": "users"}],
        "breakdown": {"type": "derived", "name": "country"},
        "limit": 2,
        "interval": "range",
    },
    "region-of-korea": {
        "series": [TOOL],
        "filters": [_ev("country", "eq", "KR", "derived")],
        "breakdown": {"type": "derived", "name": "region"},
        "interval": "week",
        "tz": "Asia/Seoul",
    },
    "geo-ops": {
        "series": [{"event": None, "measure": "events"}],
        "filters": [
            _ev("region", "exists", False, "derived"),
            _ev("country", "in", ["US", "FR"], "derived"),
            _ev("region", "contains", "France", "derived"),
        ],
        "filter_match": "any",
    },
    "person-eq": {"series": [TOOL], "filters": [_ev("plan", "eq", "pro", "person")]},
    "person-paris": {
        "series": [TOOL],
        "filters": [_ev("company", "neq", "c1", "person")],
        "tz": "Europe/Paris",
    },
    "series-filters": {
        "series": [TOOL, {"event": "Tool Used", "measure": "users", "filters": [_ev("plan", "eq", "pro")]}],
        "formula": "A - B",
    },
    # breakdowns: top N with $other (unique users counted per value, not summed) and $none
    "breakdown-plan": {"series": [TOOL], "breakdown": {"type": "event", "name": "plan"}, "limit": 2},
    "breakdown-browser": {
        "series": [TOOL, {"event": None, "measure": "events"}],
        "breakdown": {"type": "derived", "name": "browser"},
        "limit": 3,
        "interval": "range",
    },
    # events of several series in one (person, bucket, value): each series sums its own (trend._merged)
    "breakdown-events-apart": {
        "series": [
            {"event": "Tool Used", "measure": "events"},
            {"event": "Signed Up", "measure": "events"},
            {"event": "Tool Used", "measure": "events", "filters": [_ev("plan", "eq", "pro")]},
            {"event": None, "measure": "users"},
        ],
        "breakdown": {"type": "derived", "name": "browser"},
        "limit": 2,
        "interval": "week",
    },
    "breakdown-os": {
        "series": [{"event": None, "measure": "users"}],
        "breakdown": {"type": "derived", "name": "os"},
    },
    "breakdown-device": {
        "series": [TOOL],
        "breakdown": {"type": "derived", "name": "device_type"},
        "interval": "week",
    },
    "breakdown-referrer": {"series": [TOOL], "breakdown": {"type": "derived", "name": "referrer_domain"}},
    "breakdown-utm": {"series": [TOOL], "breakdown": {"type": "derived", "name": "utm_campaign"}, "limit": 1},
    "breakdown-path": {
        "series": [{"event": None, "measure": "events"}],
        "breakdown": {"type": "derived", "name": "path"},
    },
    "breakdown-trait": {
        "series": [TOOL],
        "breakdown": {"type": "person", "name": "plan"},
        "interval": "range",
    },
    "breakdown-avg": {
        "series": [{"event": "Tool Used", "measure": "avg", "property": "duration_ms"}],
        "breakdown": {"type": "event", "name": "plan"},
        "limit": 2,
    },
    # formulas (a division by zero is null) and compare (the previous period, dates of its own)
    "formula": {
        "series": [{"event": "Signed Up", "measure": "users"}, TOOL],
        "formula": "A / B",
        "breakdown": {"type": "derived", "name": "app_version"},
    },
    "formula-percent": {
        "series": [TOOL, {"event": "Signed Up", "measure": "users"}],
        "formula": "(A - B) / A * 100",
        "interval": "week",
    },
    "compare": {
        "series": [TOOL, {"event": "Signed Up", "measure": "events"}],
        "compare": True,
        "formula": "A / B",
    },
    "compare-breakdown": {
        "series": [TOOL],
        "compare": True,
        "interval": "week",
        "breakdown": {"type": "event", "name": "plan"},
        "limit": 2,
    },
}


def _close(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert len(got) == len(want), (len(got), len(want))
    for g, w in zip(got, want, strict=True):
        assert {k: v for k, v in g.items() if k != "value"} == {k: v for k, v in w.items() if k != "value"}
        if isinstance(w["value"], float) or isinstance(g["value"], float):
            assert g["value"] == pytest.approx(w["value"], rel=1e-9, abs=1e-6), (g, w)
        else:
            assert g["value"] == w["value"], (g, w)


@pytest.mark.parametrize("case", list(CASES))
def test_trend_matches_the_count_by_hand(lake: tuple[Path, list[dict[str, Any]]], case: str) -> None:
    data, lines = lake
    body = {"start": START, "end": END, **CASES[case]}
    got = run_trend(data, "UTC", body)
    want = expected(lines, body)
    _close(got["rows"], want["rows"])
    assert got["breakdown_values"] == want["breakdown_values"]
    assert got["skipped_values"] == want["skipped_values"]
    assert got["insight"] == "trend" and got["start"] == START and got["end"] == END
    nonzero = [r for r in got["rows"] if r["value"]]
    assert nonzero or case in ("eq-null",), "a case that matches nothing tests little"


BITS_CASES = ["breakdown-country", "breakdown-events-apart", "compare-breakdown", "formula"]


@pytest.mark.parametrize("case", BITS_CASES)
def test_unique_users_counted_as_bits_or_distinct_agree_with_the_hand(
    lake: tuple[Path, list[dict[str, Any]]], case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A breakdown's unique users per group are bits set per person's number (trend._aggregate) while
    groups times people fit in BITS_LIMIT, else count(DISTINCT person): both the count by hand.
    (The path of trends the one-pass grouping does not answer: tests/insights/test_trend_grouped.py.)"""
    import headwater.insights.trend as trend_module

    data, lines = lake
    monkeypatch.setattr(trend_module, "grouped_plan", lambda *a: None)
    body = {"start": START, "end": END, **CASES[case]}
    numbered: list[int] = []
    real = trend_module._numbered_people
    monkeypatch.setattr(
        trend_module, "_numbered_people", lambda *a: numbered.append(real(*a)) or numbered[-1]
    )
    as_bits = run_trend(data, "UTC", body)
    assert numbered and numbered[-1] > 0  # the people were numbered: bits
    monkeypatch.setattr(trend_module, "BITS_LIMIT", 0)
    distinct = run_trend(data, "UTC", body)
    assert numbered[-1] == 0  # over the limit: count(DISTINCT)
    want = expected(lines, body)
    _close(as_bits["rows"], want["rows"])
    _close(distinct["rows"], want["rows"])


def test_identity_merge_and_dedup_by_hand(lake: tuple[Path, list[dict[str, Any]]]) -> None:
    """a1's anonymous events count for u9 (one user), duplicates once, the junk id "0" as nobody."""
    data, lines = lake
    events = resolve(lines)
    assert len(events) == len(lines) - 2  # the two duplicated lines
    a1 = [e for e in events if e.get("anonymousId") == "a1"]
    assert {e["person"] for e in a1} == {"u9"} and len({e["at"].date() for e in a1}) > 1
    body = {
        "start": "2026-03-24",
        "end": END,
        "interval": "range",
        "series": [{"event": None, "measure": "users"}, {"event": None, "measure": "events"}],
        "filters": [_ev("tool_id", "exists", False, "derived")],
    }
    got = {r["series"]: r["value"] for r in run_trend(data, "UTC", body)["rows"]}
    people = {e["person"] for e in events if e["person"] and not (e.get("properties") or {}).get("tool_id")}
    assert "u9" in people and "anon:a1" not in people and None not in people
    assert got["A"] == len(people)  # u9 once, with a1's events; "0" is nobody
    nobody = [e for e in events if e["person"] is None]
    assert nobody  # the junk id "0": its events are not counted, as no user's
    mine = [e for e in events if e["person"] and not (e.get("properties") or {}).get("tool_id")]
    assert got["B"] == len(mine)
    # u9 alone: a trait filter on the identify's plan finds the visitor's earlier events too
    one = {**body, "filters": [{"type": "person", "name": "plan", "op": "eq", "value": "pro"}]}
    one["series"] = [{"event": None, "measure": "users"}]
    pro = {r["series"]: r["value"] for r in run_trend(data, "UTC", one)["rows"]}
    assert pro["A"] == expected(lines, one)["rows"][0]["value"]


def test_a_property_that_never_occurs_answers_zeros(lake: tuple[Path, list[dict[str, Any]]]) -> None:
    data, _ = lake
    body = {"start": START, "end": END, "series": [TOOL], "filters": [_ev("no such property", "eq", "x")]}
    out = run_trend(data, "UTC", body)
    assert [r["value"] for r in out["rows"]] == [0] * 6
    broken = run_trend(data, "UTC", {**body, "breakdown": {"type": "event", "name": "plan"}})
    assert broken["rows"] == [] and broken["breakdown_values"] == []


def test_division_by_zero_is_null_not_an_error(lake: tuple[Path, list[dict[str, Any]]]) -> None:
    data, _ = lake
    body = {
        "start": START,
        "end": END,
        "series": [TOOL, {"event": "Nobody Does This", "measure": "users"}],
        "formula": "A / B",
    }
    formula = [r["value"] for r in run_trend(data, "UTC", body)["rows"] if r["series"] == "formula"]
    assert formula == [None] * 6


def test_compare_dates_are_the_previous_periods(lake: tuple[Path, list[dict[str, Any]]]) -> None:
    data, _ = lake
    body = {"start": START, "end": END, "series": [TOOL], "compare": True, "interval": "week"}
    out = run_trend(data, "UTC", body)
    assert out["previous"] == {"start": "2026-03-21", "end": "2026-03-26"}
    dates = [(r["period"], r["date"]) for r in out["rows"]]
    # weeks from Monday, each period's first bucket dated by its start
    assert dates == [
        ("current", "2026-03-27"),
        ("current", "2026-03-30"),
        ("previous", "2026-03-21"),
        ("previous", "2026-03-23"),
    ]
