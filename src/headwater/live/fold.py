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
    counters = delta.counters
    distinct = delta.distinct
    expire = delta.expire_at
    counted = 0
    for ev in events:
        m = minutes.get(ev.timestamp, ev.receivedAt)
        if m is None or m.epoch + 60 <= horizon:
            continue
        counted += 1
        hw = ev.hw
        tool = "" if hw.tool_id is None else str(hw.tool_id)[:MAX_KEY_CHARS]
        event_type = (hw.event_type or ev.event or ev.type or "unknown")[:MAX_KEY_CHARS]
        hour, day = m.hour, m.day
        pair = tool + SEP + event_type
        _incr(counters, expire, "hc:" + hour, pair, m.hour_expiry)
        _incr(counters, expire, "dc:" + day, tool, m.day_expiry)
        actor = actor_of(ev)
        if actor is None:
            continue
        _add(distinct, expire, "m:" + m.minute, actor, m.minute_expiry)
        _add(distinct, expire, "h:" + hour, actor, m.hour_expiry)
        _add(distinct, expire, "d:" + day, actor, m.day_expiry)
        _add(distinct, expire, "ht:" + hour + ":" + tool, actor, m.hour_expiry)
        _add(distinct, expire, "hte:" + hour + ":" + pair, actor, m.hour_expiry)
        _add(distinct, expire, "dt:" + day + ":" + tool, actor, m.day_expiry)
    delta.events = counted
    return delta


def _incr(counters: dict[str, dict[str, int]], expire: dict[str, int], name: str, key: str, at: int) -> None:
    row = counters.get(name)
    if row is None:
        row = counters[name] = {}
        expire[name] = at
    row[key] = row.get(key, 0) + 1


def _add(distinct: dict[str, set[str]], expire: dict[str, int], name: str, member: str, at: int) -> None:
    members = distinct.get(name)
    if members is None:
        members = distinct[name] = set()
        expire[name] = at
    members.add(member)
