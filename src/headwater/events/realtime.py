"""What one batch of logged events changes in the realtime aggregates. Pure: no I/O, no driver.

The realtime store calls, inside one transaction: :func:`identity_lookups` (ids whose links it
loads), :func:`session_lookups` (which stored sessions could take the batch's events), then
:func:`aggregate`, and writes the resulting :class:`Delta` together with the checkpoint.

Conventions (documented in docs/realtime.md):
- the day of an event is the calendar day of its ``timestamp`` in the project time zone;
- an event without a tool_id is counted under ``tool_id = ''`` (primary key columns cannot be
  NULL); the API shows it as null;
- tool_id and event_type are cut to 200 characters so a hand-made huge value fits an index;
- the actor of an event is its userId, else ``anon:<anonymousId>``, resolved through the links
  already known (identify / alias / first event with both ids; junk ids never link).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

from headwater.events.identity import ANON_PREFIX, clean_id
from headwater.events.sessions import INACTIVITY, Session, SessionBook

MAX_KEY_CHARS = 200
NO_TOOL = ""


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
    tool = NO_TOOL if tool_id is None or tool_id == "" else _text(str(tool_id)[:MAX_KEY_CHARS])
    return RealtimeEvent(
        ts=ts,
        type=etype,
        event_type=_text((event_type or etype or "unknown")[:MAX_KEY_CHARS]),
        tool_id=tool,
        message_id=message_id,
        user_id=_opt_text(clean_id(user_id)),
        anonymous_id=_opt_text(clean_id(anonymous_id)),
        previous_id=_opt_text(clean_id(previous_id)),
    )


def _text(value: str) -> str:
    """NUL is valid in JSON strings but not in PostgreSQL text: store U+FFFD instead."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _opt_text(value: str | None) -> str | None:
    return None if value is None else _text(value)


@dataclass(slots=True)
class Delta:
    counts: dict[tuple[date, str, str], int] = field(default_factory=dict)
    users: set[tuple[date, str]] = field(default_factory=set)
    links: list[tuple[str, str]] = field(default_factory=list)  # (source, user), in order
    sessions: list[Session] = field(default_factory=list)  # changed or new, final values
    events: int = 0  # events counted (a --from replay skips older days)


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


def identity_lookups(events: Iterable[RealtimeEvent]) -> set[str]:
    """Every key whose stored link the batch needs (actors, link sources and targets)."""
    keys: set[str] = set()
    for ev in events:
        actor = ev.actor
        if actor is not None:
            keys.add(actor)
        for source, user in links_of(ev):
            keys.add(source)
            keys.add(user)
    return keys


def session_lookups(events: Iterable[RealtimeEvent], identities: Mapping[str, str]) -> dict[str, datetime]:
    """For each resolved actor (and each link source), the earliest session end that matters."""
    since: dict[str, datetime] = {}

    def need(key: str, t: datetime) -> None:
        key = identities.get(key, key)
        bound = t - INACTIVITY
        if key not in since or bound < since[key]:
            since[key] = bound

    for ev in events:
        actor = ev.actor
        if actor is not None:
            need(actor, ev.ts)
        for source, user in links_of(ev):
            need(source, ev.ts)
            need(user, ev.ts)
    return since


def local_day(ts: datetime, tz: tzinfo) -> date:
    if tz is UTC:
        return ts.date()
    try:
        return ts.astimezone(tz).date()
    except OverflowError:  # year 1 or 9999 pushed out of range by the offset
        return ts.date()


def aggregate(
    events: Iterable[RealtimeEvent],
    identities: Mapping[str, str],
    sessions: Iterable[Session],
    tz: tzinfo = UTC,
    min_day: date | None = None,
) -> Delta:
    """Fold a batch (in log order) into a Delta, given the stored links and recent sessions."""
    ids = dict(identities)
    book = SessionBook(sessions)
    delta = Delta()
    counts = delta.counts
    days_by_user: dict[str, set[date]] = {}
    for ev in events:
        for source, user in links_of(ev):
            _link(source, user, ids, book, days_by_user, delta)
        day = local_day(ev.ts, tz)
        if min_day is not None and day < min_day:
            continue
        delta.events += 1
        key = (day, ev.tool_id, ev.event_type)
        counts[key] = counts.get(key, 0) + 1
        actor = ev.actor
        if actor is None:
            continue
        actor = ids.get(actor, actor)
        days = days_by_user.get(actor)
        if days is None:
            days = days_by_user[actor] = set()
        days.add(day)
        book.add_event(actor, ev.ts, ev.message_id)
    delta.users = {(d, user) for user, days in days_by_user.items() for d in days}
    delta.sessions = book.changed()
    return delta


def _link(
    source: str,
    user: str,
    ids: dict[str, str],
    book: SessionBook,
    days_by_user: dict[str, set[date]],
    delta: Delta,
) -> None:
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
    delta.links.append((source, target))
    book.rekey(source, target)
    moved = days_by_user.pop(source, None)
    if moved:
        days_by_user.setdefault(target, set()).update(moved)
