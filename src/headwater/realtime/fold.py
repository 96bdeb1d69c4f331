"""What one batch of logged events changes in the realtime aggregates. Pure: no I/O, no driver.

The realtime target keeps a :class:`RealtimeState` between batches (links, open sessions and
user-days already known to be stored) and, inside each apply transaction:

1. :meth:`RealtimeState.plan` lists the actors and link ends of the batch with their earliest time;
2. loads the links it does not know yet (:meth:`~RealtimeState.missing_identities`), then the
   stored sessions that could take the batch's events and are not cached
   (:meth:`~RealtimeState.session_needs`);
3. :meth:`RealtimeState.fold` folds the batch into a :class:`Delta` (counts per day/tool/event,
   the user-days not stored yet, changed sessions, new links), which the store writes with one
   statement per table, together with the checkpoint.

The state is only a cache of what the store holds: the target trusts it only while the store's
checkpoint is the one it was built at, and drops it on any failure (docs/realtime.md).

Conventions (documented in docs/realtime.md):
- the day of an event is the calendar day of its ``timestamp`` in the project time zone;
- an event without a tool_id is counted under ``tool_id = ''`` (primary key columns cannot be
  NULL); the API shows it as null;
- tool_id and event_type are cut to 200 characters so a hand-made huge value fits an index;
- the actor of an event is its userId, else ``anon:<anonymousId>``, resolved through the links
  already known (identify / alias / first event with both ids; junk ids never link).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from headwater.events.identity import ANON_PREFIX, clean_id
from headwater.events.sessions import INACTIVITY, MAX_LENGTH, Session, SessionBook
from headwater.stores.sql.ports import Delta

MAX_KEY_CHARS = 200
NO_TOOL = ""

# One event as the fold reads it (a plain tuple: a batch has tens of thousands of them):
# (ts aware UTC, local day, tool_id, event_type, user_id, anon key, previous_id, type, message_id), where the
# anon key is ``anon:<anonymousId>`` (the actor key of an anonymous event, built once per id by the caller)
Row = tuple[datetime, date, str, str, "str | None", "str | None", "str | None", str, str]


@dataclass(slots=True)
class RealtimeEvent:
    """The fields of a logged event that the realtime aggregates read."""

    ts: datetime  # aware, UTC
    type: str
    event_type: str
    tool_id: str  # NO_TOOL when none
    message_id: str
    user_id: str | None  # already cleaned of junk ids
    anonymous_id: str | None
    previous_id: str | None = None

    @property
    def actor(self) -> str | None:
        if self.user_id is not None:
            return self.user_id
        return None if self.anonymous_id is None else ANON_PREFIX + self.anonymous_id

    def row(self, tz: tzinfo = UTC) -> Row:
        return (
            self.ts,
            local_day(self.ts, tz),
            self.tool_id,
            self.event_type,
            self.user_id,
            None if self.anonymous_id is None else ANON_PREFIX + self.anonymous_id,
            self.previous_id,
            self.type,
            self.message_id,
        )


def make_event(
    ts: datetime,
    etype: str,
    event_type: str | None,
    tool_id: object,
    message_id: str,
    user_id: object,
    anonymous_id: object,
    previous_id: object = None,
) -> RealtimeEvent:
    return RealtimeEvent(
        ts=ts,
        type=etype,
        event_type=event_type_text(event_type or etype),
        tool_id=tool_text(tool_id),
        message_id=message_id,
        user_id=id_text(user_id),
        anonymous_id=id_text(anonymous_id),
        previous_id=id_text(previous_id),
    )


def event_type_text(name: str | None) -> str:
    return _text((name or "unknown")[:MAX_KEY_CHARS])


def tool_text(tool_id: object) -> str:
    return NO_TOOL if tool_id is None or tool_id == "" else _text(str(tool_id)[:MAX_KEY_CHARS])


def id_text(value: object) -> str | None:
    cleaned = clean_id(value)
    return None if cleaned is None else _text(cleaned)


def _text(value: str) -> str:
    """NUL is valid in JSON strings but not in PostgreSQL text: store U+FFFD instead."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def local_day(ts: datetime, tz: tzinfo) -> date:
    if tz is UTC:
        return ts.date()
    try:
        return ts.astimezone(tz).date()
    except OverflowError:  # year 1 or 9999 pushed out of range by the offset
        return ts.date()


def links_of(ev: RealtimeEvent) -> list[tuple[str, str]]:
    """(source, user) pairs an event asserts: anon:<id> -> user, and alias previousId -> user."""
    if ev.user_id is None:
        return []
    out: list[tuple[str, str]] = []
    if ev.anonymous_id is not None:
        out.append((ANON_PREFIX + ev.anonymous_id, ev.user_id))
    if ev.type == "alias" and ev.previous_id is not None and ev.previous_id != ev.user_id:
        out.append((ANON_PREFIX + ev.previous_id, ev.user_id))
        out.append((ev.previous_id, ev.user_id))
    return out


class RealtimeState:
    """What the store is known to hold for the actors seen so far: a cache across batches.

    - ``ids``: links (source -> user) and ``checked``: keys whose stored link (or its absence) is known;
    - ``sessions[actor]``: every stored session of the actor whose last activity is at or after
      ``session_since[actor]`` (so an event at ``t`` needs no read when ``t - 30 min`` is covered);
    - ``user_days[day]``: actors whose ``daily_users`` row is known to be stored.
    """

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.checked: set[str] = set()
        self.sessions: dict[str, list[Session]] = {}
        self.session_since: dict[str, datetime] = {}
        self.user_days: dict[date, set[str]] = {}
        self.latest: datetime | None = None  # the latest event time seen

    def size(self) -> int:
        return len(self.checked) + len(self.sessions) + sum(len(s) for s in self.user_days.values())

    # -- what a batch needs from the store -------------------------------------------------
    @staticmethod
    def plan(rows: Iterable[Row]) -> dict[str, datetime]:
        """Each key the batch touches (actors before resolution, link ends) -> its earliest time."""
        first: dict[str, datetime] = {}
        get = first.get
        for ts, _day, _tool, _etype, user, anon, prev, typ, _mid in rows:
            if user is not None:
                keys: tuple[str, ...] = (user,) if anon is None else (user, anon)
                if typ == "alias" and prev is not None:
                    keys = (*keys, ANON_PREFIX + prev, prev)
            elif anon is not None:
                keys = (anon,)
            else:
                continue
            for key in keys:
                t = get(key)
                if t is None or ts < t:
                    first[key] = ts
        return first

    def missing_identities(self, keys: Iterable[str]) -> list[str]:
        checked = self.checked
        return [k for k in keys if k not in checked]

    def learn_identities(self, keys: Iterable[str], found: Mapping[str, str]) -> None:
        self.checked.update(keys)
        self.ids.update(found)

    def session_needs(self, first: Mapping[str, datetime]) -> dict[str, datetime]:
        """Resolved actor -> the earliest session end that matters, for actors not covered."""
        ids = self.ids
        need: dict[str, datetime] = {}
        for key, t in first.items():
            actor = ids.get(key, key)
            bound = t - INACTIVITY
            have = need.get(actor)
            if have is None or bound < have:
                need[actor] = bound
        since = self.session_since
        return {a: b for a, b in need.items() if a not in since or since[a] > b}

    def learn_sessions(self, need: Mapping[str, datetime], loaded: Iterable[Session]) -> None:
        fresh: dict[str, list[Session]] = {actor: [] for actor in need}
        for s in loaded:
            fresh.setdefault(s.user_id, []).append(s)
        self.sessions.update(fresh)
        self.session_since.update(need)

    # -- the fold ----------------------------------------------------------------------------
    def fold(self, rows: Iterable[Row], min_day: date | None = None) -> Delta:
        """Fold a batch (in log order) into a Delta, updating the state as the store will be."""
        ids = self.ids
        book = SessionBook(by_user=self.sessions)
        delta = Delta()
        counts = delta.counts
        user_days = self.user_days
        new_users: dict[date, set[str]] = {}
        latest = self.latest
        add_event = book.add_event
        by_user = self.sessions
        changed = book.changed_map
        known: set[str] = set()
        known_day: date | None = None
        count_of = counts.get
        events = 0
        for ts, day, tool, etype, user, anon, prev, typ, mid in rows:
            if user is not None:
                if anon is not None:
                    source = anon
                    if source not in ids and source != user:
                        self._link(source, user, book, new_users, delta)
                if typ == "alias" and prev is not None and prev != user:
                    self._link(ANON_PREFIX + prev, user, book, new_users, delta)
                    self._link(prev, user, book, new_users, delta)
                actor: str | None = ids.get(user, user)
            elif anon is not None:
                actor = ids.get(anon, anon)
            else:
                actor = None
            if min_day is not None and day < min_day:
                continue
            events += 1
            key = (day, tool, etype)
            counts[key] = count_of(key, 0) + 1
            if actor is None:
                continue
            if day != known_day:
                known_day = day
                known = user_days.setdefault(day, set())
            if actor not in known:
                known.add(actor)
                new_users.setdefault(day, set()).add(actor)
            if latest is None or ts > latest:
                latest = ts
            ss = by_user.get(actor)
            if ss is not None and len(ss) == 1:  # the common case: the actor's one open session goes on
                s = ss[0]
                if s.last <= ts <= s.last + INACTIVITY and ts - s.start < MAX_LENGTH:
                    s.last = ts
                    s.count += 1
                    changed[s.session_id] = s
                    continue
            add_event(actor, ts, mid)
        self.latest = latest
        delta.events = events
        delta.users = {(d, u) for d, us in new_users.items() for u in us}
        delta.sessions = book.take_changed()
        delta.moves = {source: ids.get(source, user) for source, user in delta.links}
        return delta

    def _link(
        self, source: str, user: str, book: SessionBook, new_users: dict[date, set[str]], delta: Delta
    ) -> None:
        ids = self.ids
        if source in ids or source == user:
            return  # the first link wins
        target = ids.get(user, user)
        if target == source:
            return  # would close a cycle
        if not source.startswith(ANON_PREFIX):  # a user id aliased away: keys pointing at it follow
            for key, value in list(ids.items()):
                if value == source:
                    ids[key] = target
        ids[source] = target
        self.checked.add(source)
        delta.links.append((source, target))
        book.rekey(source, target)
        since = self.session_since
        if source in since:  # the target's sessions are known as far back as both were
            bound = since.pop(source)
            if target in since and since[target] < bound:
                since[target] = bound
        else:  # the source's stored sessions (now the target's) are not known
            since.pop(target, None)
        for day, known in self.user_days.items():
            if source in known:
                known.discard(source)
                batch_new = new_users.get(day)
                if batch_new is not None:
                    batch_new.discard(source)
                if target not in known:
                    known.add(target)
                    new_users.setdefault(day, set()).add(target)

    # -- bounding the memory -------------------------------------------------------------------
    def prune(self, max_entries: int) -> None:
        """Forget what is least likely needed again, when the cache holds over ``max_entries``."""
        if self.latest is None:
            return
        if len(self.checked) > max_entries:
            self.ids.clear()
            self.checked.clear()
        if len(self.sessions) > max_entries // 4:  # keep the actors active in the last hour
            horizon = self.latest - 2 * INACTIVITY
            since = self.session_since
            for actor in [a for a, ss in self.sessions.items() if all(s.last < horizon for s in ss)]:
                del self.sessions[actor]
                since.pop(actor, None)
        if sum(len(s) for s in self.user_days.values()) > max_entries // 2:
            self.user_days.clear()


def identity_lookups(events: Iterable[RealtimeEvent]) -> set[str]:
    """Every key whose stored link the batch needs (actors, link sources and targets)."""
    return set(RealtimeState.plan(ev.row() for ev in events))


def session_lookups(events: Iterable[RealtimeEvent], identities: Mapping[str, str]) -> dict[str, datetime]:
    """For each resolved actor (and each link source), the earliest session end that matters."""
    state = RealtimeState()
    state.ids = dict(identities)
    return state.session_needs(RealtimeState.plan(ev.row() for ev in events))


def aggregate(
    events: Iterable[RealtimeEvent],
    identities: Mapping[str, str],
    sessions: Iterable[Session],
    tz: tzinfo = UTC,
    min_day: date | None = None,
    checked: Collection[str] = (),
) -> Delta:
    """Fold a batch (in log order) into a Delta, given the stored links and recent sessions."""
    state = RealtimeState()
    state.ids = dict(identities)
    state.checked = set(checked) | set(identities)
    SessionBook(sessions, by_user=state.sessions)
    return state.fold([ev.row(tz) for ev in events], min_day)
