"""The pure normalization rules (Segment spec + ours), without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from headwater.events.errors import EventError
from headwater.events.ip import apply_ip_policy
from headwater.events.normalize import Normalizer, RequestInfo
from headwater.events.timestamps import format_timestamp, parse_timestamp
from headwater.events.useragent import describe_user_agent

NOW = datetime(2026, 11, 25, 12, 0, 0, 500000, tzinfo=UTC)


def req(**kw: Any) -> RequestInfo:
    base: dict[str, Any] = {"received_at": NOW, "source": "web", "ip": "203.0.113.77"}
    base.update(kw)
    return RequestInfo(**base)


def norm(event: dict[str, Any], normalizer: Normalizer | None = None, **kw: Any) -> dict[str, Any]:
    return (normalizer or Normalizer()).normalize(event, req(**kw))


def test_clock_skew_is_corrected_with_sent_at() -> None:
    # the device clock is 1 h ahead; the event happened 5 min before the batch was sent
    device_sent = NOW + timedelta(hours=1)
    ev = {
        "type": "track",
        "event": "e",
        "userId": "u",
        "originalTimestamp": format_timestamp(device_sent - timedelta(minutes=5)),
    }
    out = norm(ev, sent_at=device_sent)
    assert out["timestamp"] == format_timestamp(NOW - timedelta(minutes=5))
    assert out["receivedAt"] == "2026-11-25T12:00:00.500Z"
    assert out["sentAt"] == format_timestamp(device_sent)


def test_timestamp_with_sent_at_is_corrected_too_and_kept_as_original() -> None:
    ev = {
        "type": "track",
        "event": "e",
        "userId": "u",
        "timestamp": "2026-11-25T13:00:00.000Z",
        "sentAt": "2026-11-25T13:00:10.000Z",
    }
    out = norm(ev)
    assert out["timestamp"] == format_timestamp(NOW - timedelta(seconds=10))
    assert out["originalTimestamp"] == "2026-11-25T13:00:00.000Z"


def test_timestamp_without_sent_at_is_kept() -> None:
    out = norm({"type": "track", "event": "e", "userId": "u", "timestamp": "2020-02-29T23:59:59+02:00"})
    assert out["timestamp"] == "2020-02-29T21:59:59.000Z"


def test_no_timestamp_means_received_at() -> None:
    out = norm({"type": "page", "anonymousId": "a"})
    assert out["timestamp"] == out["receivedAt"]


def test_future_is_clamped_and_flagged_but_23h_is_not() -> None:
    ok = norm(
        {
            "type": "track",
            "event": "e",
            "userId": "u",
            "timestamp": format_timestamp(NOW + timedelta(hours=22, minutes=59)),
        }
    )
    assert "flags" not in ok["_hw"]
    far = norm({"type": "track", "event": "e", "userId": "u", "timestamp": "2030-01-01T00:00:00Z"})
    assert far["timestamp"] == far["receivedAt"]
    assert far["_hw"]["flags"] == ["future_timestamp_clamped"]


@pytest.mark.parametrize(
    ("policy", "ip", "expected"),
    [
        ("keep", "203.0.113.77", "203.0.113.77"),
        ("truncate", "203.0.113.77", "203.0.113.0"),
        ("truncate", "2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
        ("truncate", "::ffff:198.51.100.9", "198.51.100.0"),
        ("drop", "203.0.113.77", None),
        ("keep", "not an ip", None),
    ],
)
def test_ip_policy(policy: Any, ip: str, expected: str | None) -> None:
    assert apply_ip_policy(ip, policy) == expected


def test_context_ip_from_the_client_wins_over_the_connection() -> None:
    out = norm({"type": "track", "event": "e", "userId": "u", "context": {"ip": "198.51.100.20"}})
    assert out["context"]["ip"] == "198.51.100.0"
    out = norm({"type": "track", "event": "e", "userId": "u"})
    assert out["context"]["ip"] == "203.0.113.0"
    out = norm({"type": "track", "event": "e", "userId": "u"}, Normalizer(ip_policy="drop"))
    assert "ip" not in out["context"]


def test_user_agent_parsed_and_bots_flagged() -> None:
    chrome = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    )
    out = norm({"type": "page", "anonymousId": "a", "context": {"userAgent": chrome}})
    assert out["_hw"]["ua"]["browser"] == "Chrome" and out["_hw"]["ua"]["os"] == "Windows"
    assert out["_hw"]["bot"] is False
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert norm({"type": "page", "anonymousId": "a", "context": {"userAgent": bot}})["_hw"]["bot"] is True
    assert describe_user_agent("curl/8.5.0").is_bot
    # a browser's header UA is used when the event has none; a server SDK's is not
    assert norm({"type": "page", "anonymousId": "a"}, user_agent=chrome)["context"]["userAgent"] == chrome
    assert (
        "userAgent"
        not in norm({"type": "page", "anonymousId": "a"}, user_agent="analytics-python/2.4")["context"]
    )


def test_message_id_generated_when_absent_and_kept_when_given() -> None:
    a = norm({"type": "track", "event": "e", "userId": "u"})
    b = norm({"type": "track", "event": "e", "userId": "u"})
    assert len(a["messageId"]) == 36 and a["messageId"] != b["messageId"]
    assert norm({"type": "track", "event": "e", "userId": "u", "messageId": "m-1"})["messageId"] == "m-1"


def test_numeric_ids_become_strings_and_empty_ids_are_absent() -> None:
    out = norm({"type": "track", "event": "e", "userId": 42, "anonymousId": ""})
    assert out["userId"] == "42" and "anonymousId" not in out


def test_tool_id_and_event_type() -> None:
    out = norm({"type": "track", "event": "Exported", "userId": "u", "properties": {"tool_id": "pdf"}})
    assert out["_hw"]["tool_id"] == "pdf" and out["_hw"]["event_type"] == "Exported"
    out = norm({"type": "identify", "userId": "u", "traits": {"plan": "pro"}})
    assert out["_hw"]["event_type"] == "identify" and "tool_id" not in out["_hw"]
    out = norm({"type": "track", "event": "e", "userId": "u", "properties": {"tool_id": None}})
    assert "tool_id" not in out["_hw"]


def test_api_events_format_aliases() -> None:
    out = norm({"event_type": "opened", "user_id": "u9", "tool_id": 7, "message_id": "m9"}, api_format=True)
    assert out["type"] == "track" and out["event"] == "opened" and out["userId"] == "u9"
    assert out["messageId"] == "m9" and out["_hw"]["tool_id"] == "7"


def test_path_type_is_implied_and_must_match() -> None:
    assert norm({"event": "e", "userId": "u"}, path_type="track")["type"] == "track"
    with pytest.raises(EventError) as exc:
        norm({"type": "identify", "userId": "u"}, path_type="track")
    assert exc.value.code == "type_mismatch"


@pytest.mark.parametrize(
    ("event", "code", "field"),
    [
        ({"type": "track", "event": "e"}, "missing_id", "userId"),
        ({"event": "e", "userId": "u"}, "missing_type", "type"),
        ({"type": "Track", "event": "e", "userId": "u"}, "unknown_type", "type"),
        ({"type": "track", "userId": "u"}, "missing_event", "event"),
        ({"type": "track", "event": "e", "userId": {"id": 1}}, "bad_id", "userId"),
        ({"type": "track", "event": "e", "userId": True}, "bad_id", "userId"),
        ({"type": "track", "event": "e", "userId": "u", "messageId": 5}, "bad_message_id", "messageId"),
        (
            {"type": "track", "event": "e", "userId": "u", "timestamp": 1700000000},
            "bad_timestamp",
            "timestamp",
        ),
        ({"type": "track", "event": "e", "userId": "u", "sentAt": "soon"}, "bad_timestamp", "sentAt"),
        ({"type": "track", "event": "e", "userId": "u", "context": "web"}, "bad_field", "context"),
        ({"type": "group", "userId": "u"}, "missing_group_id", "groupId"),
        ({"type": "alias", "previousId": "a"}, "missing_id", "userId"),
        ({"type": "alias", "userId": "u"}, "missing_previous_id", "previousId"),
        ({"type": "track", "event": "x" * 600, "userId": "u"}, "event_name_too_long", "event"),
    ],
)
def test_invalid_events_name_the_field(event: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(EventError) as exc:
        norm(event)
    assert exc.value.code == code
    assert field in exc.value.message


def test_nesting_limit_is_exact() -> None:
    def nested(levels: int) -> dict[str, Any]:
        value: dict[str, Any] = {}
        for _ in range(levels - 1):
            value = {"n": value}
        return value

    n = Normalizer(max_depth=5)
    n.normalize({"type": "track", "event": "e", "userId": "u", "properties": nested(5)}, req())
    with pytest.raises(EventError) as exc:
        n.normalize({"type": "track", "event": "e", "userId": "u", "properties": nested(6)}, req())
    assert exc.value.code == "too_deep"


def test_normalize_does_not_touch_the_input_on_failure() -> None:
    raw = {"type": "track", "userId": "u", "context": {"a": 1}}
    with pytest.raises(EventError):
        norm(raw)
    assert raw == {"type": "track", "userId": "u", "context": {"a": 1}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T01:02:03Z", "2026-11-25T01:02:03.000Z"),
        ("2026-11-25T01:02:03.123456789Z", "2026-11-25T01:02:03.123Z"),
        ("2026-11-25T03:02:03.5+02:00", "2026-11-25T01:02:03.500Z"),
        ("2026-11-25 01:02:03", "2026-11-25T01:02:03.000Z"),
    ],
)
def test_timestamp_parsing(text: str, expected: str) -> None:
    parsed = parse_timestamp(text)
    assert parsed is not None and format_timestamp(parsed) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01T00:00:00Z", None, 17, "2026-11-25T25:00:00Z"])
def test_timestamp_parsing_refuses(text: Any) -> None:
    assert parse_timestamp(text) is None


def test_generated_message_ids_are_uuid4() -> None:
    import uuid

    from headwater.events.normalize import new_message_id

    ids = {new_message_id() for _ in range(1000)}
    assert len(ids) == 1000
    for text in list(ids)[:50]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text
