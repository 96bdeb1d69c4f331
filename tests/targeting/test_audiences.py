"""Audience rules: parsing with field-naming errors, and evaluation with hand-computed answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from headwater.targeting.audience_spec import parse_audience, parse_rule
from headwater.targeting.audiences import (
    AudienceError,
    EventRecord,
    PropertyFilter,
    evaluate,
    matches,
    member_segments,
)
from headwater.targeting.enrich import Segment

NOW = datetime(2025, 6, 30, 12, tzinfo=UTC)


def ev(name: str, days_ago: float, count: int = 1, **props: Any) -> EventRecord:
    return EventRecord(name, NOW - timedelta(days=days_ago), props, count)


# A user: 3 orders (totals 50, 150, 250 at 2, 10 and 40 days ago), a daily rollup of 4 page views
# 1 day ago, one refund 100 days ago, and an order "from the future" that must be ignored.
EVENTS = [
    ev("Order Completed", 2, total=50, tags=["gift"], shipping={"country": "FR"}),
    ev("Order Completed", 10, total=150, shipping={"country": "DE"}),
    ev("Order Completed", 40, total=250, coupon=None),
    ev("Page Viewed", 1, count=4, path="/pricing"),
    ev("Refund Requested", 100),
    ev("Order Completed", -1, total=999),
]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"event": "Order Completed"}, True),
        ({"event": "Order Completed", "min_count": 3}, True),
        ({"event": "Order Completed", "min_count": 4}, False),  # the future order does not count
        ({"event": "Order Completed", "min_count": 2, "within_days": 30}, True),  # 2 and 10 days ago
        ({"event": "Order Completed", "min_count": 3, "within_days": 30}, False),
        ({"event": "Order Completed", "where": [{"property": "total", "op": "gt", "value": 100}]}, True),
        (
            {
                "event": "Order Completed",
                "where": [{"property": "total", "op": "gt", "value": 100}],
                "within_days": 5,
            },
            False,
        ),
        ({"event": "Order Completed", "where": [{"property": "total", "op": "lt", "value": 50}]}, False),
        (
            {
                "event": "Order Completed",
                "where": [{"property": "shipping.country", "op": "eq", "value": "DE"}],
            },
            True,
        ),
        (
            {
                "event": "Order Completed",
                "where": [{"property": "shipping.country", "op": "in", "value": ["FR", "DE"]}],
                "min_count": 2,
            },
            True,
        ),
        (
            {
                "event": "Order Completed",
                "where": [{"property": "shipping.country", "op": "neq", "value": "FR"}],
            },
            True,
        ),  # 150 (DE) and 250 (no shipping: neq holds)
        (
            {"event": "Order Completed", "where": [{"property": "tags", "op": "contains", "value": "gift"}]},
            True,
        ),
        ({"event": "Page Viewed", "where": [{"property": "path", "op": "contains", "value": "pric"}]}, True),
        ({"event": "Order Completed", "where": [{"property": "coupon", "op": "exists"}]}, False),  # null
        (
            {"event": "Order Completed", "where": [{"property": "coupon", "op": "exists", "value": False}]},
            True,
        ),
        ({"event": "Page Viewed", "min_count": 4, "within_days": 7}, True),  # one rollup row of 4
        ({"event": "Page Viewed", "min_count": 5}, False),
        ({"event": "Refund Requested", "not_within_days": 90}, True),  # 100 days ago
        ({"event": "Refund Requested", "not_within_days": 120}, False),
        ({"event": "Never Happened", "not_within_days": 1}, True),
        ({"all": [{"event": "Order Completed"}, {"event": "Refund Requested", "not_within_days": 30}]}, True),
        ({"all": [{"event": "Order Completed"}, {"event": "Never Happened"}]}, False),
        ({"any": [{"event": "Never Happened"}, {"event": "Page Viewed", "within_days": 2}]}, True),
        (
            {
                "any": [
                    {"event": "Never Happened"},
                    {"all": [{"event": "Refund Requested", "within_days": 30}]},
                ]
            },
            False,
        ),
    ],
)
def test_evaluate(rule: dict[str, Any], expected: bool) -> None:
    assert evaluate(parse_rule(rule), EVENTS, NOW) is expected


def test_window_edges() -> None:
    rule = parse_rule({"event": "Order Completed", "within_days": 10})
    assert evaluate(rule, [ev("Order Completed", 10)], NOW)  # exactly D days ago is inside
    assert not evaluate(rule, [ev("Order Completed", 10.001)], NOW)


def test_filters_on_mismatched_types_do_not_match() -> None:
    assert not matches(PropertyFilter("total", "gt", 1), {"total": "5"})
    assert not matches(PropertyFilter("total", "gt", 1), {"total": True})
    assert not matches(PropertyFilter("name", "contains", 1), {"name": "a1"})
    assert matches(PropertyFilter("a.b", "exists"), {"a": {"b": 0}})


AUDIENCE = {
    "id": "big-spenders",
    "name": "Big spenders",
    "taxonomy_id": "782",
    "sendable_to_buyers": True,
    "rule": {"event": "Order Completed", "min_count": 2, "within_days": 30},
}


def test_parse_audience_and_segments() -> None:
    audience = parse_audience(AUDIENCE)
    assert audience.segment() == Segment("782", 4)
    private = parse_audience(AUDIENCE | {"id": "p", "taxonomy_id": None, "sendable_to_buyers": False})
    own = parse_audience(AUDIENCE | {"id": "o", "taxonomy_id": None, "proprietary_id": "vip"})
    assert own.segment() == Segment("vip") and private.segment() == Segment("p")
    assert parse_audience(AUDIENCE | {"taxonomy_id": 782}).taxonomy_id == "782"
    assert member_segments([audience, private, own], ["big-spenders", "p", "o"]) == [
        Segment("782", 4),
        Segment("vip"),
    ]
    assert member_segments([audience], []) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": ""}, "id"),
        ({"name": 3}, "name"),
        ({"taxonomy_id": "IAB-1"}, "taxonomy_id"),
        ({"proprietary_id": "x"}, "proprietary_id"),
        ({"sendable_to_buyers": "yes"}, "sendable_to_buyers"),
        ({"rule": []}, "rule"),
        ({"rule": {"event": ""}}, "rule.event"),
        ({"rule": {"event": "a", "min_count": 0}}, "rule.min_count"),
        ({"rule": {"event": "a", "within_days": 1.5}}, "rule.within_days"),
        ({"rule": {"event": "a", "not_within_days": 3, "within_days": 3}}, "rule.not_within_days"),
        ({"rule": {"event": "a", "since": 3}}, "rule.since"),
        ({"rule": {"event": "a", "where": {}}}, "rule.where"),
        ({"rule": {"all": []}}, "rule.all"),
        ({"rule": {"any": [{"event": "a"}], "event": "b"}}, "rule"),
        (
            {"rule": {"all": [{"event": "a"}, {"event": "b", "where": [{"property": "p", "op": "like"}]}]}},
            "rule.all[1].where[0].op",
        ),
        (
            {"rule": {"event": "a", "where": [{"property": "p", "op": "in", "value": "x"}]}},
            "rule.where[0].value",
        ),
        (
            {"rule": {"event": "a", "where": [{"property": "p", "op": "gt", "value": "1"}]}},
            "rule.where[0].value",
        ),
        ({"rule": {"event": "a", "where": [{"property": "p", "op": "eq"}]}}, "rule.where[0].value"),
        ({"rule": {"event": "a", "where": [{"op": "eq", "value": 1}]}}, "rule.where[0].property"),
    ],
)
def test_bad_definitions_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(AudienceError) as caught:
        parse_audience(AUDIENCE | change)
    assert caught.value.field == field
    assert str(caught.value).startswith(field)


def test_missing_rule_and_deep_nesting() -> None:
    with pytest.raises(AudienceError, match=r"^rule"):
        parse_audience({k: v for k, v in AUDIENCE.items() if k != "rule"})
    rule: dict[str, Any] = {"event": "a"}
    for _ in range(10):
        rule = {"all": [rule]}
    with pytest.raises(AudienceError, match="deeper"):
        parse_rule(rule)
