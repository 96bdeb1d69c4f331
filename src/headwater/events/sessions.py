"""Sessions (DESIGN section 5): a new session after 30 minutes of inactivity or 24 hours.

Pure rules, no I/O. A session belongs to one actor key (an identified user id, or
``anon:<anonymousId>`` until that id is identified) and is never split at midnight.

Events are fed in log order, which is close to, but not exactly, time order (mobile clients
send offline events late, several writers interleave). An event joins the *nearest* known
session of its actor that it fits in: its time lies within 30 minutes of the session's span and
the span stays under 24 hours. Otherwise it starts a new session. So an in-order stream gives
exactly the textbook sessions, and a late event lands in the session it belongs to whenever
that session is known (the realtime store loads every session of the actor that could take it).
Two sessions are never merged after the fact; that approximation is the batch layer's to fix.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

#: The session rule of every layer (realtime, live, the ETL's rollup, the metrics): a new session
#: after more than INACTIVITY without events, or once a session is MAX_LENGTH long.
INACTIVITY: Final = timedelta(minutes=30)
MAX_LENGTH: Final = timedelta(hours=24)
INACTIVITY_US: Final = INACTIVITY // timedelta(microseconds=1)
INACTIVITY_SECONDS: Final = int(INACTIVITY.total_seconds())
MAX_LENGTH_SECONDS: Final = int(MAX_LENGTH.total_seconds())
_NAMESPACE: Final = uuid.UUID("6f1c5a36-6a0e-4d2c-9a61-3f0f4a8e2b17")
_NS_BYTES: Final = _NAMESPACE.bytes
_ZERO: Final = timedelta(0)


@dataclass(slots=True)
class Session:
    session_id: str
    user_id: str
    start: datetime
    last: datetime
    count: int

    def fits(self, t: datetime) -> bool:
        """True when an event at ``t`` continues this session."""
        if t < self.start - INACTIVITY or t > self.last + INACTIVITY:
            return False
        return max(self.last, t) - min(self.start, t) < MAX_LENGTH

    def distance(self, t: datetime) -> timedelta:
        if t < self.start:
            return self.start - t
        if t > self.last:
            return t - self.last
        return _ZERO

    def add(self, t: datetime) -> None:
        if t < self.start:
            self.start = t
        if t > self.last:
            self.last = t
        self.count += 1


def new_session_id(user_id: str, message_id: str, t: datetime) -> str:
    """Deterministic, so a replay of the log gives the same ids as live tailing did.

    ``uuid5(_NAMESPACE, user \\0 messageId \\0 time)``, computed without the uuid module's overhead
    (a worst-case batch starts a session per event)."""
    digest = hashlib.sha1(_NS_BYTES + f"{user_id}\x00{message_id}\x00{t.isoformat()}".encode()).digest()
    h = (
        digest[:6] + bytes(((digest[6] & 0x0F) | 0x50, digest[7], (digest[8] & 0x3F) | 0x80)) + digest[9:16]
    ).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class SessionBook:
    """The known sessions of actors (those loaded from the store plus new ones), and which of them
    changed since :meth:`take_changed`.

    ``by_user`` may be a long-lived dict (the realtime target's cache): the book then updates it in
    place, so the next batch finds its sessions without reading the store."""

    def __init__(
        self, known: Iterable[Session] = (), by_user: dict[str, list[Session]] | None = None
    ) -> None:
        self._by_user: dict[str, list[Session]] = {} if by_user is None else by_user
        self._changed: dict[str, Session] = {}
        for s in known:
            self._by_user.setdefault(s.user_id, []).append(s)

    def add_event(self, user_id: str, t: datetime, message_id: str) -> Session:
        sessions = self._by_user.get(user_id)
        if sessions is None:
            sessions = self._by_user[user_id] = []
        best: Session | None = None
        if len(sessions) == 1:  # the common case, without the general search below
            s = sessions[0]
            if (
                s.start <= t <= s.last + INACTIVITY and (t if t > s.last else s.last) - s.start < MAX_LENGTH
            ) or s.fits(t):
                best = s
        elif sessions:  # the nearest session that fits (Session.fits and .distance, inlined)
            best_d = _ZERO
            for s in sessions:
                start, last = s.start, s.last
                if t > last:
                    d = t - last
                    if d > INACTIVITY or t - start >= MAX_LENGTH:
                        continue
                elif t < start:
                    d = start - t
                    if d > INACTIVITY or last - t >= MAX_LENGTH:
                        continue
                else:
                    d = _ZERO
                    if last - start >= MAX_LENGTH:
                        continue
                if best is None or d < best_d or (d == best_d and last > best.last):
                    best, best_d = s, d
        if best is None:
            best = Session(new_session_id(user_id, message_id, t), user_id, t, t, 1)
            sessions.append(best)
        else:
            if t < best.start:
                best.start = t
            elif t > best.last:
                best.last = t
            best.count += 1
        self._changed[best.session_id] = best
        return best

    @property
    def changed_map(self) -> dict[str, Session]:
        """session_id -> session changed since the last take: callers updating a session add it."""
        return self._changed

    def rekey(self, old: str, new: str) -> None:
        """``old`` was identified as ``new``: its sessions now belong to ``new``."""
        moved = self._by_user.pop(old, [])
        for s in moved:
            s.user_id = new
            self._changed[s.session_id] = s
        if moved:
            self._by_user.setdefault(new, []).extend(moved)

    def sessions_of(self, user_id: str) -> list[Session]:
        return sorted(self._by_user.get(user_id, []), key=lambda s: s.start)

    def changed(self) -> list[Session]:
        return list(self._changed.values())

    def take_changed(self) -> list[Session]:
        out = list(self._changed.values())
        self._changed.clear()
        return out


def split_sessions(times: Sequence[datetime]) -> list[tuple[datetime, datetime, int]]:
    """(start, end, events) of each session in one actor's events, given sorted times (the rule)."""
    out: list[tuple[datetime, datetime, int]] = []
    for ts in times:
        if out and ts - out[-1][1] <= INACTIVITY and ts - out[-1][0] < MAX_LENGTH:
            start, _, n = out[-1]
            out[-1] = (start, ts, n + 1)
        else:
            out.append((ts, ts, 1))
    return out
