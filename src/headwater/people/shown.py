"""One event as the people API shows it, the same whether it was read from the lake or the log.

The fields are Segment's names for what the lake keeps of an event (lake/sql.py's projection):
``messageId``, ``type``, ``event`` (a track's name, else the type: what the metrics call the
event), ``userId``, ``anonymousId``, ``previousId``, ``timestamp``, ``receivedAt`` (UTC,
milliseconds), ``source``, ``toolId``, ``bot``, ``properties``, ``traits``, ``context``, and
``stored``: ``lake`` or ``log`` (received, not loaded into the lake yet).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from headwater.events.identity import actor_key
from headwater.events.timestamps import format_timestamp, parse_timestamp

_JSON_FIELDS = ("properties", "traits", "context")


@dataclass(frozen=True, slots=True)
class Shown:
    """An event to show, with what orders it: newest first by (timestamp, messageId)."""

    ts: datetime
    message_id: str
    body: dict[str, Any]

    @property
    def key(self) -> tuple[datetime, str]:
        return self.ts, self.message_id


def id_text(value: object) -> str | None:
    """An id as the lake reads it: a string as it is, a number as its JSON text, else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return json.dumps(value)
    return None


def event_name(msg: Mapping[str, Any]) -> str | None:
    """What the lake's ``event`` column holds for a logged message: the collector's event type,
    else a track's name, else the message type."""
    hw = msg.get("_hw")
    if isinstance(hw, Mapping):
        found = hw.get("event_type")
        if found is not None:
            return found if isinstance(found, str) else json.dumps(found)
    kind = msg.get("type")
    name = msg.get("event") if kind == "track" else kind
    return name if isinstance(name, str) else None


def log_actor(msg: Mapping[str, Any]) -> str | None:
    """The pre-resolution actor of a logged message (the lake's ``actor`` column)."""
    return actor_key(id_text(msg.get("userId")), id_text(msg.get("anonymousId")))


def _hw(msg: Mapping[str, Any], name: str) -> Any:
    hw = msg.get("_hw")
    return hw.get(name) if isinstance(hw, Mapping) else None


def from_log(msg: Mapping[str, Any]) -> Shown | None:
    """A logged message as shown; None without a message id or a timestamp (the lake has no row
    for it either)."""
    mid = msg.get("messageId")
    ts = parse_timestamp(msg.get("timestamp"))
    if not isinstance(mid, str) or ts is None:
        return None
    received = parse_timestamp(msg.get("receivedAt"))
    tool = _hw(msg, "tool_id")
    bot = _hw(msg, "bot")
    body: dict[str, Any] = {
        "messageId": mid,
        "type": msg.get("type"),
        "event": event_name(msg),
        "userId": id_text(msg.get("userId")),
        "anonymousId": id_text(msg.get("anonymousId")),
        "previousId": id_text(msg.get("previousId")),
        "timestamp": format_timestamp(ts),
        "receivedAt": None if received is None else format_timestamp(received),
        "source": _hw(msg, "source"),
        "toolId": None if tool is None else str(tool),
        "bot": bot is True or bot == "true",
        **{name: msg.get(name) for name in _JSON_FIELDS},
        "stored": "log",
    }
    return Shown(ts, mid, body)


def from_lake(row: Mapping[str, Any]) -> Shown:
    """A lake row (lake/sql.py's EVENT_COLUMNS) as shown."""
    ts = _utc(row["ts"])
    received = row.get("received_at")
    body: dict[str, Any] = {
        "messageId": row["message_id"],
        "type": row.get("type"),
        "event": row.get("event"),
        "userId": row.get("user_id"),
        "anonymousId": row.get("anonymous_id"),
        "previousId": row.get("previous_id"),
        "timestamp": format_timestamp(ts),
        "receivedAt": None if received is None else format_timestamp(_utc(received)),
        "source": row.get("source"),
        "toolId": row.get("tool_id"),
        "bot": bool(row.get("bot")),
        **{name: _parsed(row.get(name)) for name in _JSON_FIELDS},
        "stored": "lake",
    }
    return Shown(ts, str(row["message_id"]), body)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parsed(value: object) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def timestamp_text(value: object) -> str | None:
    """A stored time (a datetime, or a text as SQLite keeps it) as ``...T...Z`` in UTC."""
    if isinstance(value, datetime):
        return format_timestamp(_utc(value))
    parsed = parse_timestamp(value)
    return None if parsed is None else format_timestamp(parsed)
