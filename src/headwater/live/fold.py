"""What the live fold reads of each event, with the caches that make it one dict lookup: the
minute of a timestamp (:class:`MinuteCache`) and the keys of an actor (:class:`ActorCache`).
Pure: no I/O, no driver. The fold itself is headwater.live.state.

The actor of an event is its userId, else ``anon:<anonymousId>`` (junk ids ignored), then
resolved through the identity links (headwater.live.links).
"""

from __future__ import annotations

from datetime import tzinfo

from headwater.events.identity import ANON_PREFIX, clean_id
from headwater.events.timestamps import parse_timestamp
from headwater.live.buckets import Minute, minute_of
from headwater.log.record import LogRecord

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


class ActorCache:
    """userId -> the user's key, anonymousId -> ``anon:<id>`` ('' for a junk id), so an event
    costs a dict lookup or two."""

    def __init__(self, limit: int = 200_000) -> None:
        self.users: dict[str, str] = {}
        self.anons: dict[str, str] = {}
        self.limit = limit

    def keys(self, ev: LiveEvent) -> tuple[str | None, str | None]:
        """(the user's key, the anonymous id's key ``anon:<id>``) of an event, None for a junk id."""
        u, a = ev.userId, ev.anonymousId
        if type(u) is str:
            uk = self.users.get(u)
            if uk is None:
                if len(self.users) > self.limit:
                    self.users.clear()
                uk = self.users[u] = clean_id(u) or ""
        else:
            uk = clean_id(u) or ""
        if a is None:
            ak = ""
        elif type(a) is str:
            found = self.anons.get(a)
            if found is None:
                if len(self.anons) > self.limit:
                    self.anons.clear()
                cleaned = clean_id(a)
                found = self.anons[a] = "" if cleaned is None else ANON_PREFIX + cleaned
            ak = found
        else:
            cleaned = clean_id(a)
            ak = "" if cleaned is None else ANON_PREFIX + cleaned
        return uk or None, ak or None
