"""Validation and normalization of one incoming message (Segment spec + Headwater annotations).

Everything a client sent is kept as sent; Headwater fills in or corrects only ``messageId``,
``type``, ``timestamp``, ``originalTimestamp``, ``receivedAt``, ``sentAt`` and ``context.ip``
and ``context.userAgent``, adds ``context.location`` (country, region) when the client sent none
(events/geo.py), and adds its own findings under ``_hw``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, datetime, timedelta
from typing import Any

from headwater.events.errors import EventError
from headwater.events.geo import GeoLookup, locate
from headwater.events.ip import IpPolicy, apply_ip_policy
from headwater.events.model import (
    API_ALIASES,
    EVENT_TYPES,
    HW,
    MAX_EVENT_NAME,
    MAX_ID_LENGTH,
    MAX_MESSAGE_ID,
    Event,
)
from headwater.events.timestamps import format_timestamp, parse_timestamp
from headwater.events.useragent import looks_like_browser, ua_annotation

#: How deep the JSON body of an API request (not a collected event's: ``max_depth``) may nest.
MAX_BODY_DEPTH = 64
#: The earliest event time kept (the metrics' first day; a year-1 time broke the ETL and sessions).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class RequestInfo:
    """What the collector knows about the request an event came in."""

    received_at: datetime
    source: str
    ip: str | None = None
    user_agent: str | None = None
    sent_at: datetime | None = None  # batch-level sentAt
    path_type: str | None = None  # type implied by /v1/track, /v1/t ...
    api_format: bool = False  # POST /api/events: snake_case aliases, type defaults to track
    # a sender that corrected the device clock already (``segment``: Segment's webhooks): its
    # ``timestamp`` is the event's time as it is, however late the delivery; its ``receivedAt``
    # is kept as ``_hw.upstream_received_at`` beside ours
    upstream: str | None = None
    received_text: str = dc_field(init=False)
    sent_text: str | None = dc_field(init=False)

    def __post_init__(self) -> None:
        self.received_text = format_timestamp(self.received_at)
        self.sent_text = format_timestamp(self.sent_at) if self.sent_at is not None else None


@dataclass(frozen=True, slots=True)
class Normalizer:
    max_depth: int = 32
    ip_policy: IpPolicy = "truncate"
    future_clamp: timedelta = timedelta(hours=23)
    #: country and region of the full IP, before the policy (events/geo.py); None: no lookup
    geo: GeoLookup | None = None

    def normalize(self, raw: Any, req: RequestInfo, shallow: bool = False) -> Event:
        """The normalized event, or EventError naming the offending field. ``shallow``: the caller
        knows the event cannot nest deeper than ``max_depth`` (its text holds fewer brackets: see
        json_too_deep), so the depth walk is skipped."""
        if not isinstance(raw, dict):
            raise EventError("not_an_object", f"an event must be a JSON object, got {_kind(raw)}")
        ev: Event = dict(raw)
        if req.api_format:
            _apply_api_aliases(ev)
        flags: list[str] = []
        upstream_received = ev.get("receivedAt") if req.upstream is not None else None

        etype = self._event_type(ev, req)
        self._check_ids(ev, etype)
        self._check_objects(ev, shallow)
        self._timestamps(ev, req, flags)
        hw: dict[str, Any] = {"source": req.source}
        if req.upstream is not None:
            hw["upstream"] = req.upstream
            if isinstance(upstream_received, str):
                hw["upstream_received_at"] = upstream_received

        if etype == "track":
            name = ev.get("event")
            if not isinstance(name, str) or not name.strip():
                raise EventError("missing_event", "track events need a non-empty string 'event' (the name)")
            if len(name) > MAX_EVENT_NAME:
                raise EventError("event_name_too_long", f"'event' is over {MAX_EVENT_NAME} characters")
            hw["event_type"] = name
        else:
            hw["event_type"] = etype

        tool = _tool_id(ev)
        if tool is not None:
            hw["tool_id"] = tool
        if flags:
            hw["flags"] = flags
        self._context(ev, req, hw)  # last: nothing may fail after the context is touched
        ev[HW] = hw
        return ev

    # -- pieces -----------------------------------------------------------------------------
    def _event_type(self, ev: Event, req: RequestInfo) -> str:
        etype = ev.get("type")
        if etype is None:
            if req.path_type is not None:
                etype = req.path_type
            elif req.api_format:
                etype = "track"
            else:
                raise EventError("missing_type", "field 'type' is required (track, identify, page, ...)")
        if not isinstance(etype, str) or etype not in EVENT_TYPES:
            raise EventError(
                "unknown_type",
                f"field 'type' is {etype!r}: expected one of {', '.join(sorted(EVENT_TYPES))}",
            )
        if req.path_type is not None and etype != req.path_type:
            raise EventError(
                "type_mismatch", f"field 'type' is {etype!r} but the endpoint takes {req.path_type!r}"
            )
        ev["type"] = etype
        return etype

    def _check_ids(self, ev: Event, etype: str) -> None:
        present = False
        for field in ("userId", "anonymousId"):
            value = ev.get(field)
            if type(value) is str and 0 < len(value) <= MAX_ID_LENGTH:  # the common case, fast
                present = True
                continue
            if value is None or value == "":
                ev.pop(field, None)
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise EventError("bad_id", f"field '{field}' must be a string, got {_kind(value)}")
            if not isinstance(value, str):
                value = str(value)
                ev[field] = value
            if len(value) > MAX_ID_LENGTH:
                raise EventError("id_too_long", f"field '{field}' is over {MAX_ID_LENGTH} characters")
            present = True
        if not present:
            raise EventError("missing_id", "every event needs 'userId' or 'anonymousId'")

        mid = ev.get("messageId")
        if mid is None or mid == "":
            ev["messageId"] = new_message_id()
        elif not isinstance(mid, str):
            raise EventError("bad_message_id", f"field 'messageId' must be a string, got {_kind(mid)}")
        elif len(mid) > MAX_MESSAGE_ID:
            raise EventError("message_id_too_long", f"field 'messageId' is over {MAX_MESSAGE_ID} characters")

        if etype == "alias":
            prev = ev.get("previousId")
            if not isinstance(prev, str | int) or isinstance(prev, bool) or prev == "":
                raise EventError("missing_previous_id", "alias events need 'previousId'")
            if "userId" not in ev:
                raise EventError("missing_user_id", "alias events need 'userId'")
        elif etype == "group":
            gid = ev.get("groupId")
            if not isinstance(gid, str | int) or isinstance(gid, bool) or gid == "":
                raise EventError("missing_group_id", "group events need 'groupId'")

    def _check_objects(self, ev: Event, shallow: bool = False) -> None:
        for field in ("properties", "traits", "context", "integrations"):
            value = ev.get(field)
            if value is None:
                continue
            if type(value) is not dict:
                raise EventError("bad_field", f"field '{field}' must be an object, got {_kind(value)}")
            if not shallow and _too_deep(value, self.max_depth - 1):
                raise EventError("too_deep", f"field '{field}' is nested deeper than {self.max_depth} levels")

    def _timestamps(self, ev: Event, req: RequestInfo, flags: list[str]) -> None:
        received = req.received_at
        sent_at = req.sent_at
        upstream_time = req.upstream is not None and ev.get("timestamp") is not None
        fields = ("timestamp",) if upstream_time else ("originalTimestamp", "timestamp")
        if upstream_time:
            sent_at = None  # corrected upstream: the timestamp is the time, the rest is kept as sent
        elif "sentAt" in ev and ev["sentAt"] is not None:
            sent_at = parse_timestamp(ev["sentAt"])
            if sent_at is None:
                raise EventError("bad_timestamp", "field 'sentAt' is not an ISO 8601 timestamp")
        device: datetime | None = None
        for field in fields:
            value = ev.get(field)
            if value is None:
                continue
            parsed = parse_timestamp(value)
            if parsed is None:
                raise EventError(
                    "bad_timestamp", f"field '{field}' is not an ISO 8601 timestamp: {str(value)[:64]!r}"
                )
            if device is None:
                device, device_field = parsed, field
                if field == "timestamp" and req.upstream is None:
                    ev["originalTimestamp"] = value
        if device is None:
            moment = received
        elif sent_at is not None:
            # Segment's clock-skew correction: the device clock's offset cancels out.
            try:
                moment = received - (sent_at - device)
            except OverflowError:  # e.g. sent in 9999 an event of year 1
                raise EventError(
                    "bad_timestamp",
                    f"fields 'sentAt' and '{device_field}' are too far apart: the corrected time is out"
                    " of range",
                ) from None
        else:
            moment = device
        if moment < EARLIEST:  # no metric, session or lake day reads it: refused, not kept
            named = f"field '{device_field}'" if sent_at is None else f"fields 'sentAt' and '{device_field}'"
            raise EventError("bad_timestamp", f"{named} put the event before {EARLIEST:%Y-%m-%d}")
        if moment > received + self.future_clamp:
            flags.append("future_timestamp_clamped")
            moment = received
        ev["timestamp"] = format_timestamp(moment)
        ev["receivedAt"] = req.received_text
        if req.sent_text is not None and "sentAt" not in ev:
            ev["sentAt"] = req.sent_text

    def _context(self, ev: Event, req: RequestInfo, hw: dict[str, Any]) -> None:
        context = ev.get("context")
        if context is None:
            context = ev["context"] = {}

        ip = context.get("ip")
        if not isinstance(ip, str) or not ip:
            ip = req.ip
        kept = None
        if ip:
            if self.geo is not None:  # the full address, before the policy truncates or drops it
                locate(context, ip, self.geo)
            kept = apply_ip_policy(ip, self.ip_policy)
        if kept is None:
            context.pop("ip", None)
        else:
            context["ip"] = kept

        ua = context.get("userAgent")
        if not isinstance(ua, str) or not ua:
            ua = req.user_agent if req.user_agent and looks_like_browser(req.user_agent) else None
            if ua:
                context["userAgent"] = ua
        if ua:
            hw["ua"], hw["bot"] = ua_annotation(ua)
        else:
            hw["bot"] = False


def new_message_id() -> str:
    """A random (version 4) UUID string; 3x cheaper than str(uuid.uuid4())."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _apply_api_aliases(ev: Event) -> None:
    for alias, canonical in API_ALIASES.items():
        if alias in ev and canonical not in ev:
            ev[canonical] = ev.pop(alias)


def _tool_id(ev: Event) -> str | None:
    props = ev.get("properties")
    value: Any = None
    if isinstance(props, dict):
        value = props.get("tool_id")
    if value is None:
        value = ev.get("tool_id")
    if value is None or isinstance(value, bool) or value == "":
        return None
    if isinstance(value, str | int | float):
        return str(value)[:256]
    return None


def json_too_deep(raw: bytes | str, value: Any, levels: int = MAX_BODY_DEPTH) -> bool:
    """Whether decoded JSON ``value`` (from the text ``raw``) nests its objects and arrays more than
    ``levels`` deep, itself counting one. A text with fewer brackets than that cannot: that test
    alone (C speed) answers for nearly every body."""
    opens = raw.count(b"{") + raw.count(b"[") if isinstance(raw, bytes) else raw.count("{") + raw.count("[")
    if opens <= levels or type(value) not in (dict, list):
        return False
    return levels <= 0 or _too_deep(value, levels - 1)


def _too_deep(value: Any, budget: int) -> bool:
    """True when containers nest more than ``budget`` further levels (early exit).

    Exact type checks (not isinstance) because this runs for every event: JSON gives dict/list.
    """
    children = value.values() if type(value) is dict else value
    for child in children:
        kind = type(child)
        if (kind is dict or kind is list) and (budget <= 0 or _too_deep(child, budget - 1)):
            return True
    return False


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )
