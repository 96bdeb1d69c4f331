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

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

INACTIVITY: Final = timedelta(minutes=30)
MAX_LENGTH: Final = timedelta(hours=24)
_NAMESPACE: Final = uuid.UUID("6f1c5a36-6a0e-4d2c-9a61-3f0f4a8e2b17")


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
        return timedelta(0)

    def add(self, t: datetime) -> None:
        if t < self.start:
            self.start = t
        if t > self.last:
            self.last = t
        self.count += 1


def new_session_id(user_id: str, message_id: str, t: datetime) -> str:
    """Deterministic, so a replay of the log gives the same ids as live tailing did."""
    return str(uuid.uuid5(_NAMESPACE, f"{user_id}\x00{message_id}\x00{t.isoformat()}"))


class SessionBook:
    """The sessions of the actors of one batch: those loaded from the store plus new ones."""

    def __init__(self, known: Iterable[Session] = ()) -> None:
        self._by_user: dict[str, list[Session]] = {}
        self._changed: dict[str, Session] = {}
        for s in known:
            self._by_user.setdefault(s.user_id, []).append(s)

    def add_event(self, user_id: str, t: datetime, message_id: str) -> Session:
        sessions = self._by_user.setdefault(user_id, [])
        best: Session | None = None
        for s in sessions:
            if s.fits(t) and (
                best is None
                or s.distance(t) < best.distance(t)
                or (s.distance(t) == best.distance(t) and s.last > best.last)
            ):
                best = s
        if best is None:
            best = Session(new_session_id(user_id, message_id, t), user_id, t, t, 1)
            sessions.append(best)
        else:
            best.add(t)
        self._changed[best.session_id] = best
        return best

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
