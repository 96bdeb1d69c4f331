"""The Segment message model as Headwater reads it."""

from __future__ import annotations

from typing import Any, Final

Event = dict[str, Any]

EVENT_TYPES: Final = frozenset({"track", "identify", "page", "screen", "group", "alias"})

# analytics.js short paths (/v1/t ...) and the long ones, to the message type they imply.
PATH_TYPES: Final[dict[str, str]] = {
    "track": "track",
    "identify": "identify",
    "page": "page",
    "screen": "screen",
    "group": "group",
    "alias": "alias",
    "t": "track",
    "i": "identify",
    "p": "page",
    "s": "screen",
    "g": "group",
    "a": "alias",
}

MAX_MESSAGE_ID: Final = 100
MAX_ID_LENGTH: Final = 1024
MAX_EVENT_NAME: Final = 512

# Headwater's own annotations live under this key of every logged event.
HW: Final = "_hw"

# /api/events (the brief's own format) accepts these snake_case spellings.
API_ALIASES: Final[dict[str, str]] = {
    "event_type": "event",
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "message_id": "messageId",
}
