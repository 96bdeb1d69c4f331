"""The pure rules of alerts (headwater.alerts.rules): a definition checked field by field, the periods
looked at, a condition applied to a value into a state, when a webhook is sent, and its JSON."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from headwater.alerts.rules import (
    AlertError,
    Condition,
    evaluate,
    message,
    notification,
    number,
    parse_alert,
    payload,
    periods,
    series_name,
    summary,
)

GOOD: dict[str, Any] = {
    "name": "Sign-ups dropped",
    "insight": "abc123",
    "condition": {"type": "below", "value": 5},
    "webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX",
}


def test_a_definition_with_its_defaults() -> None:
    spec = parse_alert(GOOD)
    assert spec.condition == Condition("below", 5.0, "day", "any")
    assert (spec.series, spec.every, spec.name) == (0, "hour", "Sign-ups dropped")
    assert spec.condition.as_json() == {"type": "below", "value": 5, "period": "day"}
    change = parse_alert(
        {**GOOD, "condition": {"type": "change", "value": 20, "period": "week", "direction": "down"}}
    )
    assert change.condition.as_json() == {
        "type": "change",
        "value": 20,
        "period": "week",
        "direction": "down",
    }
    # a change keeps the fields the body leaves out, and echoes of an answer are not refused
    changed = parse_alert({"every": "day", "state": "ok", "id": "x", "last_value": 3}, spec)
    assert changed.every == "day" and changed.condition == spec.condition and changed.name == spec.name


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": None}, "'name'"),
        ({"name": "   "}, "'name'"),
        ({"name": "bell\x07"}, "'name'"),
        ({"insight": ""}, "'insight'"),
        ({"insight": 7}, "'insight'"),
        ({"condition": None}, "'condition'"),
        ({"condition": "below 5"}, "'condition'"),
        ({"condition": {"type": "between", "value": 1}}, "'condition.type'"),
        ({"condition": {"type": "above", "value": "10"}}, "'condition.value'"),
        ({"condition": {"type": "above", "value": True}}, "'condition.value'"),
        ({"condition": {"type": "above", "value": 1e300}}, "'condition.value'"),
        ({"condition": {"type": "change", "value": -20}}, "'condition.value'"),
        ({"condition": {"type": "change", "value": 0}}, "'condition.value'"),
        ({"condition": {"type": "above", "value": 1, "period": "month"}}, "'condition.period'"),
        ({"condition": {"type": "change", "value": 1, "direction": "sideways"}}, "'condition.direction'"),
        ({"condition": {"type": "above", "value": 1, "direction": "up"}}, "'condition.direction'"),
        ({"condition": {"type": "above", "value": 1, "window": 3}}, "'condition.window'"),
        ({"series": -1}, "'series'"),
        ({"series": "A"}, "'series'"),
        ({"series": True}, "'series'"),
        ({"webhook_url": None}, "'webhook_url'"),
        ({"webhook_url": "ftp://hooks.example.com/x"}, "'webhook_url'"),
        ({"webhook_url": "javascript:alert(1)"}, "'webhook_url'"),
        ({"webhook_url": "hooks.slack.com/services/x"}, "'webhook_url'"),
        ({"webhook_url": "https:///no-host"}, "'webhook_url'"),
        ({"webhook_url": "https://host:port/x"}, "'webhook_url'"),
        ({"webhook_url": "https://hooks.example.com/a b"}, "'webhook_url'"),
        ({"every": "minute"}, "'every'"),
        ({"colour": "red"}, "'colour'"),
    ],
)
def test_every_bad_field_is_named(change: dict[str, Any], field: str) -> None:
    with pytest.raises(AlertError) as info:
        parse_alert({**GOOD, **change})
    assert field in info.value.message, info.value.message


def test_the_series_by_index() -> None:
    assert series_name(0, 2, False) == "A" and series_name(1, 2, False) == "B"
    assert series_name(2, 2, True) == "formula"
    with pytest.raises(AlertError, match="'series' must be from 0 to 1"):
        series_name(2, 2, False)
    with pytest.raises(AlertError, match="'series' must be 0: the insight has 1 series"):
        series_name(1, 1, False)


def test_the_periods_are_the_last_complete_ones() -> None:
    wednesday = date(2026, 4, 1)
    assert periods("day", wednesday) == ((date(2026, 3, 31),) * 2, (date(2026, 3, 30),) * 2)
    # the last complete week from Monday, and the one before it
    assert periods("week", wednesday) == (
        (date(2026, 3, 23), date(2026, 3, 29)),
        (date(2026, 3, 16), date(2026, 3, 22)),
    )
    assert periods("week", date(2026, 3, 30))[0] == (date(2026, 3, 23), date(2026, 3, 29))  # a Monday


@pytest.mark.parametrize(
    ("condition", "value", "previous", "state", "change"),
    [
        (Condition("above", 10), 11, 1, "firing", 1000.0),
        (Condition("above", 10), 10, 1, "ok", 900.0),  # above is strictly above
        (Condition("below", 5), 4.5, None, "firing", None),
        (Condition("below", 5), 5, 3, "ok", 66.67),
        (Condition("below", 5), None, 3, "ok", None),  # no value (an average of nothing) is no alarm
        (Condition("change", 20), 80, 100, "firing", -20.0),
        (Condition("change", 20), 119, 100, "ok", 19.0),
        (Condition("change", 20, direction="up"), 80, 100, "ok", -20.0),
        (Condition("change", 20, direction="down"), 80, 100, "firing", -20.0),
        (Condition("change", 20, direction="up"), 5, 0, "firing", None),  # from 0: an infinite change
        (Condition("change", 20, direction="down"), 5, 0, "ok", None),
        (Condition("change", 20), 0, 0, "ok", 0.0),
        (Condition("change", 20), 5, None, "ok", None),
    ],
)
def test_a_condition_applied(
    condition: Condition, value: float | None, previous: float | None, state: str, change: float | None
) -> None:
    found = evaluate(condition, value, previous)
    assert (found.state, found.change) == (state, change)


def test_a_webhook_once_per_crossing() -> None:
    # (the state the webhook last received, the state found) -> what is sent
    assert notification("ok", "ok") is None
    assert notification("ok", "firing") == "firing"
    assert notification("firing", "firing") is None  # no message every hour while it fires
    assert notification("firing", "ok") == "recovered"
    assert notification("firing", "error") is None and notification("ok", "error") is None
    # a delivery that failed left "notified" where it was: the next check sends it again
    assert notification("ok", "firing") == "firing"


def test_the_message_and_the_slack_payload() -> None:
    condition = Condition("change", 20, "week")
    found = evaluate(condition, 80, 100)
    said = summary("Weekly sign-ups", "A", condition, found, date(2026, 3, 23))
    assert said == (
        "'Weekly sign-ups' (series A) was 80 in the week of 2026-03-23, -20 % against 100 the week before"
        " (alert when a change of 20 % or more (either way) from the week before)"
    )
    text = message("Sign-ups moved", "firing", said)
    assert text.startswith("Alert 'Sign-ups moved' is firing: 'Weekly sign-ups'") and text.endswith(".")
    body = payload(text, "firing", {"value": 80})
    assert body["text"] == text and body["headwater"] == {"notification": "firing", "value": 80}
    assert (
        body["blocks"][0]["text"]["type"] == "mrkdwn"
        and "*Alert firing*" in body["blocks"][0]["text"]["text"]
    )
    json.dumps(body)  # JSON as it is
    assert message("x", "recovered", "y").startswith("Alert 'x' recovered: y")
    assert [number(v) for v in (1234, 12.5, 1 / 3, None, 2.0)] == ["1,234", "12.5", "0.3333", "no value", "2"]
