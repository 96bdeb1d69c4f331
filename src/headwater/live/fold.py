"""Folding a batch of logged events into a LiveDelta. Pure: no I/O, no driver.

The actor of an event is its userId, else ``anon:<anonymousId>`` (junk ids ignored); the live
layer does not resolve identities (the realtime store and the batch do). Events whose minute
ended more than RETENTION ago are skipped: their buckets have expired.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import cast

from headwater.events.identity import ANON_PREFIX, clean_id
from headwater.events.timestamps import parse_timestamp
from headwater.live.buckets import RETENTION_S, SEP, Minute, minute_of
from headwater.log.record import LogRecord
from headwater.stores.live.ports import LiveDelta

MAX_KEY_CHARS = 200


#: The fields of a log line the live counters read: the record every tailer of a process shares.
LiveEvent = LogRecord


class MinuteCache:
    """Canonical ``YYYY-MM-DDTHH:MM`` prefix -> Minute, so each event costs one dict lookup."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.canonical: dict[str, Minute] = {}  # read directly by fold's inner loop

    def get(self, ts: str | None, fallback: str | None) -> Minute | None:
        for text in (ts, fallback):
            if not text:
                continue
            if len(text) == 24 and text[-1] == "Z":  # the collector's canonical form
                key = text[:16]
                found = self.canonical.get(key)
                if found is not None:
                    return found
            moment = parse_timestamp(text)
            if moment is None:
                continue
            found = minute_of(moment, self.tz)
            if len(self.canonical) > 10_000:
                self.canonical.clear()
            self.canonical[f"{moment:%Y-%m-%dT%H:%M}"] = found
            return found
        return None


def actor_of(ev: LiveEvent) -> str | None:
    cleaned = clean_id(ev.userId)
    if cleaned is not None:
        return cleaned
    anon = clean_id(ev.anonymousId)
    return None if anon is None else ANON_PREFIX + anon


class ActorCache:
    """userId / anonymousId text -> actor ('' for a junk id), so an event costs a dict lookup."""

    def __init__(self, limit: int = 200_000) -> None:
        self.users: dict[str, str] = {}
        self.anons: dict[str, str] = {}
        self.limit = limit

    def actor(self, ev: LiveEvent) -> str | None:
        u = ev.userId
        if type(u) is not str:
            return actor_of(ev)
        actor = self.users.get(u)
        if actor is None:
            if len(self.users) > self.limit:
                self.users.clear()
            actor = self.users[u] = clean_id(u) or ""
        if actor:
            return actor
        a = ev.anonymousId
        if type(a) is not str:
            return actor_of(ev)
        actor = self.anons.get(a)
        if actor is None:
            if len(self.anons) > self.limit:
                self.anons.clear()
            cleaned = clean_id(a)
            actor = self.anons[a] = "" if cleaned is None else ANON_PREFIX + cleaned
        return actor or None


Combo = tuple[Minute, str, str]  # (minute, tool_id, event_type)


def fold(
    events: Iterable[LiveEvent],
    minutes: MinuteCache,
    now: datetime | None = None,
    actors: ActorCache | None = None,
) -> LiveDelta:
    """Pre-aggregate the batch per (minute, tool, event type): one count and one actor set each,
    then spread every combination into its counters and sets with C-level set unions."""
    horizon = int((now or datetime.now(UTC)).timestamp()) - RETENTION_S
    cache = actors or ActorCache()
    slow_actor = cache.actor
    users = cache.users
    slow_minute = minutes.get
    canonical = minutes.canonical
    groups: dict[Combo, list[str | None]] = {}  # the actor of each event of the combination
    for ev in events:
        ts = ev.timestamp
        m = canonical.get(ts[:16]) if ts and len(ts) == 24 and ts[-1] == "Z" else None
        if m is None:
            m = slow_minute(ts, ev.receivedAt)
            if m is None:
                continue
        if m.epoch + 60 <= horizon:
            continue
        hw = ev.hw
        tool = hw.tool_id
        if type(tool) is not str:
            tool = "" if tool is None else str(tool)
        key = (m, tool[:MAX_KEY_CHARS], (hw.event_type or ev.event or ev.type or "unknown")[:MAX_KEY_CHARS])
        u = ev.userId
        actor = users.get(u) if type(u) is str else None
        if not actor:
            actor = slow_actor(ev)
        found = groups.get(key)
        if found is None:
            groups[key] = [actor]
        else:
            found.append(actor)
    delta = LiveDelta()
    for (m, tool, event_type), group in groups.items():
        n = len(group)
        delta.events += n
        hour, day = m.hour, m.day
        pair = tool + SEP + event_type
        hour_row = _row(delta, "hc:" + hour, m.hour_expiry)
        hour_row[pair] = hour_row.get(pair, 0) + n
        day_row = _row(delta, "dc:" + day, m.day_expiry)
        day_row[tool] = day_row.get(tool, 0) + n
        with_none = set(group)
        with_none.discard(None)  # events without an actor
        if not with_none:
            continue
        actors_of = cast("set[str]", with_none)
        _set(delta, "m:" + m.minute, m.minute_expiry).update(actors_of)
        _set(delta, "h:" + hour, m.hour_expiry).update(actors_of)
        _set(delta, "d:" + day, m.day_expiry).update(actors_of)
        _set(delta, "ht:" + hour + ":" + tool, m.hour_expiry).update(actors_of)
        _set(delta, "hte:" + hour + ":" + pair, m.hour_expiry).update(actors_of)
        _set(delta, "dt:" + day + ":" + tool, m.day_expiry).update(actors_of)
    return delta


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
