"""Bad trend queries are refused with a message naming the field (nothing read), and the pieces
that need no data: the formula's tiny evaluator, the buckets, the CLI's short filter syntax."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from headwater.insights.buckets import bucket_of, bucket_starts
from headwater.insights.formula import parse_formula
from headwater.insights.options import parse_filter, trend_body
from headwater.insights.request import parse_trend
from headwater.lake.params import MetricError

BASE: dict[str, Any] = {"start": "2026-03-01", "end": "2026-03-31", "series": [{"event": "Tool Used"}]}


def refused(body: dict[str, Any]) -> MetricError:
    with pytest.raises(MetricError) as caught:
        parse_trend(body, "UTC")
    assert caught.value.status == 400
    return caught.value


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"breakdown": {"type": "derived", "name": "planet"}}, "'breakdown.name'"),
        ({"breakdown": {"type": "derived", "name": "Country"}}, "'breakdown.name'"),
        ({"filters": [{"type": "derived", "name": "city", "op": "exists"}]}, "'filters[0].name'"),
        ({"filters": [{"type": "cohort", "name": "buyers", "op": "eq", "value": 1}]}, "'filters[0].value'"),
        ({"filters": [{"type": "cohort", "name": "buyers", "op": "in", "value": [1]}]}, "'filters[0].op'"),
        ({"breakdown": {"type": "cohort", "name": "big buyers"}}, "'breakdown.name'"),
        ({"filters": [{"type": "event", "name": "plan", "op": "like", "value": "p"}]}, "'filters[0].op'"),
        ({"filters": [{"type": "event", "name": "plan", "op": "eq"}]}, "'filters[0].value'"),
        ({"filters": [{"type": "event", "name": "plan", "op": "in", "value": "pro"}]}, "'filters[0].value'"),
        ({"filters": [{"type": "event", "name": "n", "op": "gt", "value": "5"}]}, "'filters[0].value'"),
        ({"filters": [{"type": "event", "name": "n", "op": "gt", "value": 10**400}]}, "'filters[0].value'"),
        ({"filters": [{"type": "event", "name": "n", "op": "exists", "value": 1}]}, "'filters[0].value'"),
        ({"filters": [{"type": "event", "name": "n", "op": "eq", "value": {"a": 1}}]}, "'filters[0].value'"),
        ({"filters": [{"type": "event", "name": "", "op": "exists"}]}, "'filters[0].name'"),
        ({"filters": [{"type": "event", "name": "a\x00b", "op": "exists"}]}, "'filters[0].name'"),
        ({"filters": [{"type": "event", "name": "\ud800", "op": "exists"}]}, "'filters[0].name'"),
        (
            {"filters": [{"type": "person", "name": "plan", "op": "contains", "value": 7}]},
            "'filters[0].value'",
        ),
        ({"filters": [{"type": "event", "name": "plan", "op": "eq", "value": 1, "x": 1}]}, "'filters[0].x'"),
        ({"filters": {"plan": "pro"}}, "'filters'"),
        ({"filter_match": "some"}, "'filter_match'"),
        ({"interval": "hour"}, "'interval'"),
        ({"limit": 0}, "'limit'"),
        ({"limit": 101}, "'limit'"),
        ({"limit": True}, "'limit'"),
        ({"compare": "yes"}, "'compare'"),
        ({"formula": "A / C"}, "'formula'"),
        ({"formula": "A ** 2"}, "'formula'"),
        ({"formula": "__import__('os')"}, "'formula'"),
        ({"formula": "A.real"}, "'formula'"),
        ({"formula": "abs(A)"}, "'formula'"),
        ({"formula": "A if B else 1"}, "'formula'"),
        ({"formula": "a / b"}, "'formula'"),
        ({"formula": "'A'"}, "'formula'"),
        ({"formula": "A /"}, "'formula'"),
        ({"formula": "(" * 300 + "A" + ")" * 300}, "'formula'"),
        ({"series": []}, "'series'"),
        ({"series": [{"event": "x", "measure": "median"}]}, "'series[0].measure'"),
        ({"series": [{"event": "x", "measure": "sum"}]}, "'series[0].property'"),
        ({"series": [{"event": "x", "measure": "users", "property": "n"}]}, "'series[0].property'"),
        ({"series": [{"event": 7}]}, "'series[0].event'"),
        (
            {"series": [{"event": "x", "filters": [{"type": "event", "name": "n", "op": "?"}]}]},
            "'series[0].filters[0].op'",
        ),
        ({"series": [{"event": "x"}] * 27}, "'series'"),
        ({"nonsense": 1}, "'nonsense'"),
        ({"start": 20260301}, "'start'"),
    ],
)
def test_bad_input_names_the_field(change: dict[str, Any], field: str) -> None:
    error = refused({**BASE, **change})
    assert field in error.message, error.message


def test_country_and_region_are_derived_dimensions() -> None:
    body = {**BASE, "breakdown": {"type": "derived", "name": "country"}}
    body["filters"] = [{"type": "derived", "name": "region", "op": "eq", "value": "KR-11"}]
    query = parse_trend(body, "UTC")
    assert query.breakdown is not None and query.breakdown.name == "country"
    assert query.filters[0].name == "region" and query.filters[0].value == "KR-11"
    unknown = refused({**BASE, "breakdown": {"type": "derived", "name": "city"}})
    assert unknown.code == "bad_field" and "country, region, browser" in unknown.message


def test_dates_and_time_zone() -> None:
    assert "'start'" in refused({**BASE, "start": "2026-04-01"}).message  # after the end
    assert refused({**BASE, "start": "2026-04-01"}).code == "start_after_end"
    assert refused({**BASE, "start": "yesterday"}).code == "bad_date"
    assert refused({**BASE, "tz": "Mars/Olympus"}).code == "unknown_timezone"
    assert refused({**BASE, "end": None}).code == "missing_parameter"
    assert (
        "'compare'" in refused({**BASE, "start": "1970-01-01", "end": "1970-01-31", "compare": True}).message
    )
    too_many = refused(
        {
            **BASE,
            "start": "2000-01-01",
            "end": "2009-12-31",
            "limit": 100,
            "breakdown": {"type": "event", "name": "p"},
        }
    )
    assert "'interval'" in too_many.message


def test_a_good_query_parses() -> None:
    query = parse_trend(
        {
            **BASE,
            "tz": "Asia/Seoul",
            "interval": "week",
            "series": [{"event": "A"}, {"event": None, "measure": "p90", "property": "ms"}],
            "filters": [{"type": "event", "name": "plan", "op": "in", "value": ["pro", 7, None, True]}],
            "breakdown": {"type": "derived", "name": "browser"},
            "formula": "(A - B) / A * 100",
            "compare": True,
        },
        "UTC",
    )
    assert [s.name for s in query.series] == ["A", "B"] and query.series[1].event is None
    assert query.filters[0].value == ("pro", 7, None, True)
    assert query.previous == (date(2026, 1, 29), date(2026, 2, 28))
    assert query.rng.tz == "Asia/Seoul"


def test_the_formula_evaluator() -> None:
    f = parse_formula("(A - B) / A * 100", ("A", "B"))
    assert f.evaluate({"A": 10, "B": 4}) == pytest.approx(60.0)
    assert f.evaluate({"A": 0, "B": 4}) is None  # division by zero: null
    assert f.evaluate({"A": None, "B": 4}) is None  # a series without a value
    assert parse_formula("-A + +B", ("A", "B")).evaluate({"A": 1, "B": 3}) == 2
    assert parse_formula("A * 1e308 * 10", ("A",)).evaluate({"A": 1}) is None  # not finite
    assert parse_formula("A / 0.0", ("A",)).evaluate({"A": 1}) is None
    assert parse_formula("2", ("A",)).evaluate({}) == 2.0


def test_buckets() -> None:
    first, last = date(2026, 3, 27), date(2026, 4, 8)  # a Friday
    assert bucket_starts("week", first, last) == [first, date(2026, 3, 30), date(2026, 4, 6)]
    assert bucket_starts("month", first, last) == [first, date(2026, 4, 1)]
    assert bucket_starts("range", first, last) == [first]
    assert len(bucket_starts("day", first, last)) == 13
    assert bucket_of("week", date(2026, 3, 28), first) == first
    assert bucket_of("week", date(2026, 4, 5), first) == date(2026, 3, 30)  # a Sunday: its Monday
    assert bucket_starts("month", date(2026, 12, 5), date(2027, 1, 2)) == [
        date(2026, 12, 5),
        date(2027, 1, 1),
    ]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("event:plan=pro", {"type": "event", "name": "plan", "op": "eq", "value": "pro"}),
        ("event:plan=pro,team", {"type": "event", "name": "plan", "op": "in", "value": ["pro", "team"]}),
        ("event:a=x\\,y", {"type": "event", "name": "a", "op": "eq", "value": "x,y"}),
        ("event:n=7", {"type": "event", "name": "n", "op": "eq", "value": 7}),
        ('event:n="7"', {"type": "event", "name": "n", "op": "eq", "value": "7"}),
        ("event:ok=true", {"type": "event", "name": "ok", "op": "eq", "value": True}),
        ("event:plan!=pro", {"type": "event", "name": "plan", "op": "neq", "value": "pro"}),
        ("event:n>2.5", {"type": "event", "name": "n", "op": "gt", "value": 2.5}),
        ("event:n<-1", {"type": "event", "name": "n", "op": "lt", "value": -1}),
        (
            "derived:browser~Chrome",
            {"type": "derived", "name": "browser", "op": "contains", "value": "Chrome"},
        ),
        ("person:email?", {"type": "person", "name": "email", "op": "exists", "value": True}),
        ("person:email!?", {"type": "person", "name": "email", "op": "exists", "value": False}),
        ("event:a.b[0]=$x", {"type": "event", "name": "a.b[0]", "op": "eq", "value": "$x"}),
        ("event:ключ = значение", {"type": "event", "name": "ключ", "op": "eq", "value": "значение"}),
    ],
)
def test_the_cli_filter_syntax(text: str, parsed: dict[str, Any]) -> None:
    assert parse_filter(text) == parsed


@pytest.mark.parametrize(
    "text", ["plan=pro", "place:plan=pro", "event:plan", "event:=pro", "event:n!=1,2", "event:n?x"]
)
def test_bad_cli_filters_say_why(text: str) -> None:
    with pytest.raises(MetricError) as caught:
        parse_filter(text)
    assert "--filter" in caught.value.message


def test_cli_series_pair_events_measures_and_properties() -> None:
    body = trend_body(
        "2026-03-01", "2026-03-02", events=["A", "*"], measures=["users", "sum"], properties=["ms"]
    )
    assert body["series"] == [
        {"event": "A", "measure": "users"},
        {"event": None, "measure": "sum", "property": "ms"},
    ]
    assert trend_body("2026-03-01", "2026-03-02")["series"] == [{"event": None, "measure": "events"}]
    with pytest.raises(MetricError):
        trend_body("2026-03-01", "2026-03-02", events=["A", "B", "C"], measures=["users", "events"])
