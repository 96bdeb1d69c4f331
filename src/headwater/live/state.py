"""The live tailer's exact state, and the fold of a batch into it. Pure: no I/O, no driver.

Every live unique count is exact: the tailer keeps, for each bucket of the retention window, the
set of actors seen in it (fingerprints: headwater.log.tailing.fingerprints), and the live store
keeps only the numbers (headwater.live.buckets names them). An actor's last minute of activity
feeds a histogram (actors per minute of last activity), whose sum over the last N minutes is the
number of actors active in them: any window, exact, in O(minutes) for the store.

On top of the sets, the fold drops retries (a messageId received in the last 24 hours:
headwater.log.tailing.dedup) and resolves identities (headwater.live.links): when a batch links an
anonymous id to a user, the anonymous id's past memberships move to the user, so both count once,
as the batch counts them.

The state is rebuilt from the log whenever the tailer starts (headwater.live.target); nothing of
it is stored but the numbers. Memory: see :meth:`LiveState.nbytes` and docs/live.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import cast

import numpy as np

from headwater.live.buckets import (
    LAST_SEEN_KEEP_MINUTES,
    RETENTION_S,
    SEP,
    USERS,
    Minute,
    last_seen_key,
)
from headwater.live.fold import MAX_KEY_CHARS, ActorCache, MinuteCache
from headwater.live.links import LinkBook, Lookup, asserted_links
from headwater.log.record import LogRecord
from headwater.log.tailing.dedup import RecentMessages
from headwater.log.tailing.fingerprints import FingerprintSet
from headwater.stores.live.ports import LiveDelta

PRUNE_EVERY_SECONDS = 60
FP_CACHE = 200_000  # actors whose fingerprint object is kept (then the cache starts again)
ACTOR_KEEP_MINUTES = (RETENTION_S + 2 * 86_400) // 60  # the longest a set is kept: a day, then RETENTION

Combo = tuple[Minute, str, str]  # (minute, tool_id, event_type)


class LiveState:
    def __init__(self, tz: tzinfo, lookup: Lookup | None = None) -> None:
        self.minutes = MinuteCache(tz)
        self.actors = ActorCache()
        self.links = LinkBook(lookup)
        self.recent = RecentMessages()
        self.sets: dict[str, dict[str, FingerprintSet]] = {}  # store hash -> field -> actors
        self.expire: dict[str, int] = {}  # store hash -> unix seconds
        self.last_seen: dict[int, int] = {}  # actor -> unix minute of its latest activity
        self.per_minute: dict[int, int] = {}  # unix minute -> actors whose latest activity it is
        self.events = 0  # counted (not duplicates, not expired)
        self._next_prune = 0
        self._floor = 0
        self.fps: dict[str, int] = {}  # actor -> its fingerprint (the int object the sets share)

    # -- the fold -----------------------------------------------------------------------------
    def fold(self, events: Sequence[LogRecord], now: datetime) -> LiveDelta:
        """Fold a batch (log order) into the state; what the store must change (numbers only)."""
        now_s = int(now.timestamp())
        self._floor = now_s // 60 - LAST_SEEN_KEEP_MINUTES  # older minutes are in no window
        delta = LiveDelta()
        if not events:
            return delta
        first = self.recent.first_seen([ev.messageId for ev in events], [ev.receivedAt for ev in events])
        keys, asserted = self._keys(events, first)
        made = self.links.learn({k for k in keys if k} | {source for source, _ in asserted}, asserted)
        changed: dict[str, set[str]] = {}
        if made:
            self._move(made, changed, delta)
        groups, seen = self._group(events, keys, first, now_s)
        self._count(groups, now_s, changed, delta)
        self._see(seen, delta)
        for name, fields in changed.items():
            sets = self.sets[name]
            delta.set_values(name, {f: len(sets[f]) for f in fields}, self.expire[name])
        if now_s >= self._next_prune:
            self.prune(now_s)
        return delta

    def _keys(
        self, events: Sequence[LogRecord], first: list[bool]
    ) -> tuple[list[str | None], list[tuple[str, str]]]:
        """The actor key of each event (its user's, else its anonymous id's; None for none or a
        duplicate), and the links the batch asserts, (source, user), in order, each once."""
        users, anons = self.actors.users, self.actors.anons
        slow = self.actors.keys
        linked = self.links.ids
        out: list[str | None] = []
        append = out.append
        asserted: dict[tuple[str, str], None] = {}
        for ev, fresh in zip(events, first, strict=True):
            if not fresh:
                append(None)
                continue
            u, a = ev.userId, ev.anonymousId
            uk = users.get(u) if type(u) is str else None
            ak = "" if a is None else anons.get(a) if type(a) is str else None
            if uk is None or ak is None:  # not cached (or not a string): the slow path
                found_u, found_a = slow(ev)
                uk, ak = found_u or "", found_a or ""
            if uk:
                append(uk)
                if ev.type == "alias":
                    asserted.update(dict.fromkeys(asserted_links(uk, ak or None, ev.type, ev.previousId)))
                elif ak and ak not in linked:  # a linked key keeps its first link
                    asserted[(ak, uk)] = None
            else:
                append(ak or None)
        return out, list(asserted)

    def _group(
        self,
        events: Sequence[LogRecord],
        keys: list[str | None],
        first: list[bool],
        now_s: int,
    ) -> tuple[dict[Combo, list[int | None]], dict[int, int]]:
        """Per (minute, tool, event type): the actor of each event; and each actor's latest minute."""
        canonical = self.minutes.canonical
        slow_minute = self.minutes.get
        resolve = self.links.ids.get
        groups: dict[Combo, list[int | None]] = {}
        seen: dict[int, int] = {}
        seen_get = seen.get
        fps = self.fps
        for ev, key, fresh in zip(events, keys, first, strict=True):
            if not fresh:
                continue  # a retry of a message counted already
            ts = ev.timestamp
            canon = ts is not None and len(ts) == 24 and ts[-1] == "Z"
            m = canonical.get(ts[:16]) if canon else None  # type: ignore[index]
            if m is None:
                m = slow_minute(ts, ev.receivedAt)
                if m is None:
                    continue
            if m.day_expiry <= now_s:
                continue  # every bucket of its minute has expired
            fp: int | None = None  # an event without an actor counts as an event only
            if key is not None:
                actor = resolve(key, key)
                fp = fps.get(actor)
                if fp is None:  # one int object per actor, shared by every set it is in
                    if len(fps) > FP_CACHE:
                        fps.clear()
                    fp = fps[actor] = hash(actor)
                minute = m.epoch // 60
                rt = ev.receivedAt
                if rt is not None and (not canon or rt[:16] < ts[:16]):  # type: ignore[index]
                    r = canonical.get(rt[:16]) if len(rt) == 24 and rt[-1] == "Z" else None
                    if r is None:
                        r = slow_minute(rt, None)
                    if r is not None and r.epoch // 60 < minute:
                        minute = r.epoch // 60  # stamped ahead of its receipt: active when received
                if seen_get(fp, -1) < minute:
                    seen[fp] = minute
            hw = ev.hw
            tool = hw.tool_id
            if type(tool) is not str:
                tool = "" if tool is None else str(tool)
            event_type = hw.event_type or ev.event or ev.type or "unknown"
            combo = (m, tool[:MAX_KEY_CHARS], event_type[:MAX_KEY_CHARS])
            found = groups.get(combo)
            if found is None:
                groups[combo] = [fp]
            else:
                found.append(fp)
        return groups, seen

    def _count(
        self,
        groups: dict[Combo, list[int | None]],
        now_s: int,
        changed: dict[str, set[str]],
        delta: LiveDelta,
    ) -> None:
        """Event counts per hour and day; the actors of each set gathered first (C-level unions),
        then added once per set."""
        adds: dict[tuple[str, str], tuple[set[int], int]] = {}

        def gather(name: str, field: str, actors: set[int], expire_at: int) -> None:
            found = adds.get((name, field))
            if found is None:
                adds[(name, field)] = (set(actors), expire_at)
            else:
                found[0].update(actors)

        for (m, tool, event_type), group in groups.items():
            n = len(group)
            hour_live = m.hour_expiry > now_s
            pair = tool + SEP + event_type
            if hour_live:
                delta.incr("hc:" + m.hour, pair, m.hour_expiry, n)
            delta.incr("dc:" + m.day, tool, m.day_expiry, n)
            delta.events += n
            self.events += n
            actors = set(group)
            actors.discard(None)
            if not actors:
                continue
            members = cast("set[int]", actors)
            if hour_live:
                gather("hu:" + m.hour, pair, members, m.hour_expiry)
                gather("htu:" + m.hour, tool, members, m.hour_expiry)
                gather("hn:" + m.hour, USERS, members, m.hour_expiry)
            gather("dtu:" + m.day, tool, members, m.day_expiry)
            gather("dn:" + m.day, USERS, members, m.day_expiry)
        for (name, field), (members, expire_at) in adds.items():
            self._add(name, field, members, expire_at, changed)

    def _add(
        self, name: str, field: str, actors: set[int], expire_at: int, changed: dict[str, set[str]]
    ) -> None:
        sets = self.sets.get(name)
        if sets is None:
            sets = self.sets[name] = {}
            self.expire[name] = expire_at
        members = sets.get(field)
        if members is None:
            members = sets[field] = FingerprintSet()
        if members.add_all(actors):
            changed.setdefault(name, set()).add(field)

    def _see(self, seen: dict[int, int], delta: LiveDelta) -> None:
        """Each actor's latest minute moves forward; the histogram's changed minutes are written."""
        last = self.last_seen
        hist = self.per_minute
        floor = self._floor
        touched: set[int] = set()
        for fp, minute in seen.items():
            before = last.get(fp)
            if before is not None:
                if before >= minute:
                    continue
                if before in hist:  # (an actor seen before the windows' horizon is in none)
                    hist[before] -= 1
                    touched.add(before)
            last[fp] = minute
            if minute >= floor:
                hist[minute] = hist.get(minute, 0) + 1
                touched.add(minute)
        self._write_minutes(touched, delta)

    def _write_minutes(self, minutes: set[int], delta: LiveDelta) -> None:
        for minute in minutes:
            name, field, expire_at = last_seen_key(minute)
            delta.set_values(name, {field: self.per_minute.get(minute, 0)}, expire_at)

    def _move(self, made: list[tuple[str, str]], changed: dict[str, set[str]], delta: LiveDelta) -> None:
        """Links learned: each source's memberships and latest minute move to its user."""
        last = self.last_seen  # every actor in a set (its latest minute is kept as long)
        moves = {fs: hash(user) for source, user in made if (fs := hash(source)) in last}
        if not moves:
            return  # the sources were never counted: nothing to move
        sources = np.fromiter(moves, dtype=np.int64, count=len(moves))
        wanted = set(moves)
        for name, sets in self.sets.items():
            for field, members in sets.items():
                if not len(members.base):  # a small set: one C-level test
                    if members.recent.isdisjoint(wanted):
                        continue
                    hits = [fp for fp in wanted if fp in members.recent]
                else:
                    hits = sources[members.contains_many(sources)].tolist()
                    if not hits:
                        continue
                for fp in hits:
                    members.discard(fp)
                members.add_all({moves[fp] for fp in hits})
                changed.setdefault(name, set()).add(field)
        hist = self.per_minute
        touched: set[int] = set()
        for source, target in moves.items():
            minute = last.pop(source)
            if minute in hist:
                hist[minute] -= 1
                touched.add(minute)
            other = last.get(target)
            if other is not None:
                if other >= minute:
                    continue
                if other in hist:
                    hist[other] -= 1
                    touched.add(other)
            last[target] = minute
            if minute >= self._floor:
                hist[minute] = hist.get(minute, 0) + 1
                touched.add(minute)
        self._write_minutes(touched, delta)

    # -- memory -------------------------------------------------------------------------------
    def prune(self, now_s: int) -> None:
        """Forget expired buckets, and latest minutes no window can reach."""
        self._next_prune = now_s + PRUNE_EVERY_SECONDS
        for name in [n for n, at in self.expire.items() if at <= now_s]:
            del self.expire[name]
            self.sets.pop(name, None)
        oldest = now_s // 60 - LAST_SEEN_KEEP_MINUTES
        if any(m < oldest for m in self.per_minute):
            self.per_minute = {m: n for m, n in self.per_minute.items() if m >= oldest}
        kept = now_s // 60 - ACTOR_KEEP_MINUTES  # an actor stays known while any set may hold it
        if self.last_seen and min(self.last_seen.values()) < kept:
            self.last_seen = {fp: m for fp, m in self.last_seen.items() if m >= kept}

    def nbytes(self) -> int:
        """About the memory the state holds: sets, latest minutes (~100 bytes an actor), the
        dedup window and the identity links (~200 bytes a key)."""
        sets = sum(s.nbytes() for fields in self.sets.values() for s in fields.values())
        links = 200 * (len(self.links.ids) + len(self.links.checked))
        return sets + 100 * len(self.last_seen) + self.recent.nbytes() + links

    def members(self) -> int:
        return sum(len(s) for fields in self.sets.values() for s in fields.values())
