"""Folding a batch of logged events into a LiveDelta. Pure: no I/O, no driver.

The actor of an event is its userId, else ``anon:<anonymousId>`` (junk ids ignored); the live
layer does not resolve identities (the realtime store and the batch do). Events whose minute
ended more than RETENTION ago are skipped: their buckets have expired.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo

import msgspec

from headwater.events.identity import ANON_PREFIX, clean_id
from headwater.events.timestamps import parse_timestamp
from headwater.live.buckets import RETENTION_S, SEP, Minute, minute_of
from headwater.stores.live.base import LiveDelta

MAX_KEY_CHARS = 200


class HwInfo(msgspec.Struct):
    event_type: str | None = None
    tool_id: str | int | float | None = None


class LiveEvent(msgspec.Struct):
    """The fields of a log line the live counters read (the rest is skipped, unparsed)."""

    type: str = ""
    event: str | None = None
    userId: str | int | float | None = None
    anonymousId: str | int | float | None = None
    timestamp: str | None = None
    receivedAt: str | None = None
    hw: HwInfo = msgspec.field(name="_hw", default_factory=HwInfo)


class MinuteCache:
    """Canonical ``YYYY-MM-DDTHH:MM`` prefix -> Minute, so each event costs one dict lookup."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._cache: dict[str, Minute] = {}

    def get(self, ts: str | None, fallback: str | None) -> Minute | None:
        for text in (ts, fallback):
            if not text:
                continue
            if len(text) == 24 and text[-1] == "Z":  # the collector's canonical form
                key = text[:16]
                found = self._cache.get(key)
                if found is not None:
                    return found
            moment = parse_timestamp(text)
            if moment is None:
                continue
            found = minute_of(moment, self.tz)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[f"{moment:%Y-%m-%dT%H:%M}"] = found
            return found
        return None


def actor_of(ev: LiveEvent) -> str | None:
    cleaned = clean_id(ev.userId)
    if cleaned is not None:
        return cleaned
    anon = clean_id(ev.anonymousId)
    return None if anon is None else ANON_PREFIX + anon


def fold(events: Iterable[LiveEvent], minutes: MinuteCache, now: datetime | None = None) -> LiveDelta:
    delta = LiveDelta()
    horizon = int((now or datetime.now(UTC)).timestamp()) - RETENTION_S
    # (minute, tool, event_type) -> the counter rows and the member sets its events go to
    combos: dict[
        tuple[Minute, str, str], tuple[dict[str, int], str, dict[str, int], tuple[set[str], ...]]
    ] = {}
    counted = 0
    for ev in events:
        m = minutes.get(ev.timestamp, ev.receivedAt)
        if m is None or m.epoch + 60 <= horizon:
            continue
        counted += 1
        hw = ev.hw
        tool = "" if hw.tool_id is None else str(hw.tool_id)[:MAX_KEY_CHARS]
        event_type = (hw.event_type or ev.event or ev.type or "unknown")[:MAX_KEY_CHARS]
        combo = combos.get((m, tool, event_type))
        if combo is None:
            combo = combos[(m, tool, event_type)] = _combo(delta, m, tool, event_type)
        hour_row, pair, day_row, sets = combo
        hour_row[pair] = hour_row.get(pair, 0) + 1
        day_row[tool] = day_row.get(tool, 0) + 1
        actor = actor_of(ev)
        if actor is not None:
            for members in sets:
                members.add(actor)
    delta.events = counted
    for name in [n for n, members in delta.distinct.items() if not members]:
        del delta.distinct[name]  # combos whose events had no actor
    return delta


def _combo(
    delta: LiveDelta, m: Minute, tool: str, event_type: str
) -> tuple[dict[str, int], str, dict[str, int], tuple[set[str], ...]]:
    hour, day = m.hour, m.day
    pair = tool + SEP + event_type
    hour_row = _row(delta, "hc:" + hour, m.hour_expiry)
    day_row = _row(delta, "dc:" + day, m.day_expiry)
    sets = (
        _set(delta, "m:" + m.minute, m.minute_expiry),
        _set(delta, "h:" + hour, m.hour_expiry),
        _set(delta, "d:" + day, m.day_expiry),
        _set(delta, "ht:" + hour + ":" + tool, m.hour_expiry),
        _set(delta, "hte:" + hour + ":" + pair, m.hour_expiry),
        _set(delta, "dt:" + day + ":" + tool, m.day_expiry),
    )
    return hour_row, pair, day_row, sets


def _row(delta: LiveDelta, name: str, at: int) -> dict[str, int]:
    row = delta.counters.get(name)
    if row is None:
        row = delta.counters[name] = {}
        delta.expire_at[name] = at
    return row


def _set(delta: LiveDelta, name: str, at: int) -> set[str]:
    members = delta.distinct.get(name)
    if members is None:
        members = delta.distinct[name] = set()
        delta.expire_at[name] = at
    return members
