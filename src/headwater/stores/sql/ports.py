"""What the SQL store offers the features: the realtime aggregates (the "realtime" tailer writes,
the API reads) and the write keys, with the values they exchange. Backend-neutral; the SQLite and
PostgreSQL implementations are in this package.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

from headwater.events.sessions import Session
from headwater.log.tailing.batch import TailReject


class StoreUnavailableError(RuntimeError):
    """The store cannot be reached or opened; the message names the (masked) URL."""


class KeyNotFoundError(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class WriteKey:
    key: str
    name: str
    created_at: datetime
    revoked_at: datetime | None = None
    allowed_origins: tuple[str, ...] = field(default_factory=tuple)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def new_write_key() -> str:
    return "hw_" + secrets.token_urlsafe(24)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DailyRow:
    tool_id: str  # '' when the events had none
    event_type: str
    count: int


@dataclass(frozen=True, slots=True)
class DailyTotals:
    day: date
    rows: list[DailyRow]  # sorted by tool_id, event_type
    unique_users: int

    @property
    def events(self) -> int:
        return sum(r.count for r in self.rows)


@dataclass(slots=True)
class Delta:
    """What one batch changes in the realtime aggregates (headwater.realtime.fold makes it)."""

    counts: dict[tuple[date, str, str], int] = field(default_factory=dict)
    users: set[tuple[date, str]] = field(default_factory=set)  # user-days not stored yet
    links: list[tuple[str, str]] = field(default_factory=list)  # (source, user), in order
    sessions: list[Session] = field(default_factory=list)  # changed or new, final values
    events: int = 0  # events counted (a --from replay skips older days)
    moves: dict[str, str] = field(default_factory=dict)  # link source -> its user at the batch's end

    def link_moves(self) -> list[tuple[str, str]]:
        """(source, final user) of each new link: the stored rows of ``source`` move to the user."""
        return list(self.moves.items())


class RealtimeTx(Protocol):
    """The operations of one apply transaction (see headwater.realtime.target)."""

    def checkpoint_of(self, tailer: str, files: Collection[str]) -> dict[str, int]:
        """The stored offsets of these files (0 when absent), after locking the tailer's row."""
        ...

    def checkpoint_all(self, tailer: str) -> dict[str, int]:
        """The tailer's whole stored checkpoint, locked until the transaction ends."""
        ...

    def identities(self, keys: Collection[str]) -> dict[str, str]: ...

    def recent_sessions(self, since: Mapping[str, datetime]) -> list[Session]:
        """Sessions of each user whose last_activity is at or after the given moment."""
        ...

    def write_delta(self, delta: Delta) -> None: ...

    def quarantine(self, tailer: str, rejects: Sequence[TailReject]) -> None: ...

    def save_checkpoint(self, tailer: str, changes: Mapping[str, int]) -> None: ...

    def serialize(self) -> None:
        """Wait until no other host's apply runs, until this transaction ends (a cluster's hosts
        fold the same users' sessions: docs/scale-out.md)."""
        ...

    def first_seen(self, ids: Sequence[str], received: Sequence[str], window_hours: int) -> list[bool]:
        """Which of these messages (non-empty ids, their receivedAt) no host applied in the window
        before them, nor earlier in the list; remembered with the transaction. Ids older than the
        window (behind the newest receivedAt) are forgotten."""
        ...


class RealtimeStore(Protocol):
    """The realtime aggregates: daily_stats, daily_users, user_sessions, identities, checkpoints."""

    url: str

    def transaction(self) -> AbstractContextManager[RealtimeTx]:
        """One write transaction: committed on normal exit, rolled back on an exception."""
        ...

    def load_checkpoint(self, tailer: str) -> dict[str, int]: ...

    def identities(self, keys: Collection[str]) -> dict[str, str]:
        """The stored link (source -> user) of each of these keys that has one."""
        ...

    def daily(self, day: date) -> DailyTotals: ...

    def sessions(self, active_at: datetime | None = None, limit: int = 100) -> tuple[int, list[Session]]:
        """(how many, the latest ``limit``) sessions; only those active at ``active_at`` if given."""
        ...

    def quarantined(self, tailer: str) -> list[TailReject]: ...

    def reset_realtime(
        self,
        tailer: str,
        from_day: date | None = None,
        since: datetime | None = None,
        files: Iterable[str] = (),
    ) -> None:
        """Forget aggregates (all, or days >= from_day and sessions active since ``since``) and the
        tailer's checkpoint (all, or of ``files``), in one transaction: the rebuild of a replay."""
        ...

    def forget(self, ids: Collection[str]) -> dict[str, int]:
        """Remove every row naming a person (GDPR deletion); the rows removed per table.

        ``ids``: every id of the person (userId, anonymous ids, alias ids; ``anon:<id>`` read as
        ``<id>``; junk ids such as ``null`` ignored, they are nobody's). The ids the stored links
        tie to the person's are added first: a link's source belongs to its user. Then, in one
        transaction: ``daily_users`` and ``user_sessions`` rows of the person's actor keys (the
        id, or ``anon:<id>``), ``identities`` links from or to them, and the rejected lines of
        ``tail_quarantine`` and ``warehouse_rejects`` holding an id as a whole token (JSON
        escapes read). Running it again removes nothing.

        What stays, and why: ``daily_stats`` keeps the person's events in its counts (a count per
        day, tool and event type names nobody, and the events did happen); the unique users of a
        day are counted from ``daily_users``, so realtime DAU and unique users drop by exactly
        the person on every day they had a row, closed days included. ``hourly_stats`` and
        ``hourly_rollups`` hold numbers only (copies of the live store's hours, no id): their
        unique users of the hours the person was active still count them, and nothing here
        knows which hours, tools and event types those were; they are recomputed from the log
        or the lake once those are erased.

        On disk: SQLite overwrites what it deletes (``secure_delete``) and the write-ahead log is
        checkpointed and truncated, so the file no longer holds the ids. PostgreSQL VACUUMs the
        tables: the space is free, but the bytes remain in the data files until reused (or
        ``VACUUM FULL``) and in WAL segments until recycled."""
        ...

    def close(self) -> None: ...


class WriteKeyStore(Protocol):
    """The sources' write keys."""

    def create_key(self, name: str, allowed_origins: tuple[str, ...] = ()) -> WriteKey: ...

    def list_keys(self, include_revoked: bool = False) -> list[WriteKey]: ...

    def revoke_key(self, key_or_name: str) -> list[WriteKey]:
        """Revoke a key (by key, or every active key of a source name); KeyNotFoundError if none."""
        ...
