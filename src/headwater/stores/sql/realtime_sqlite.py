"""The realtime aggregates in SQLite: one apply transaction (BEGIN IMMEDIATE) and the queries.

Dates are 'YYYY-MM-DD' text and timestamps fixed-width UTC text, so text order is time order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

from headwater.events.sessions import INACTIVITY, MAX_LENGTH, Session
from headwater.log.tailing.batch import TailReject
from headwater.stores.sql.forget import (
    FORGET_TABLES,
    PERSON_COLUMNS,
    TEXT_TABLES,
    TokenMatcher,
    actor_keys,
    plain_ids,
)
from headwater.stores.sql.ports import DailyRow, DailyTotals, Delta, StoreUnavailableError, utcnow

_CHUNK = 500  # bound parameters per IN (...) list


def ts_text(moment: datetime) -> str:
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"


def ts_parse(text: str) -> datetime:
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class SqliteRealtimeTx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def checkpoint_of(self, tailer: str, files: Collection[str]) -> dict[str, int]:
        stored = self.checkpoint_all(tailer)
        return {f: stored.get(f, 0) for f in files}

    def checkpoint_all(self, tailer: str) -> dict[str, int]:
        """The tailer's whole stored checkpoint (the transaction holds the write lock already)."""
        self.db.execute("INSERT OR IGNORE INTO tailers(name) VALUES (?)", (tailer,))
        rows = self.db.execute("SELECT file, file_offset FROM tail_checkpoints WHERE tailer = ?", (tailer,))
        return {f: int(o) for f, o in rows}

    def identities(self, keys: Collection[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in _chunks(list(keys)):
            marks = ",".join("?" * len(part))
            out.update(
                self.db.execute(f"SELECT source, user_id FROM identities WHERE source IN ({marks})", part)
            )
        return out

    def recent_sessions(self, since: Mapping[str, datetime]) -> list[Session]:
        if not since:
            return []
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS want_sessions (uid TEXT PRIMARY KEY, since TEXT)")
        self.db.execute("DELETE FROM want_sessions")
        self.db.executemany(
            "INSERT INTO want_sessions VALUES (?, ?)", [(u, ts_text(t)) for u, t in since.items()]
        )
        rows = self.db.execute(
            "SELECT s.session_id, s.user_id, s.start_time, s.last_activity, s.events_count "
            "FROM want_sessions w JOIN user_sessions s ON s.user_id = w.uid AND s.last_activity >= w.since"
        ).fetchall()
        return [Session(r[0], r[1], ts_parse(r[2]), ts_parse(r[3]), int(r[4])) for r in rows]

    def write_delta(self, delta: Delta) -> None:
        db = self.db
        moves = delta.link_moves()
        if moves:  # set-based: every new link's stored rows move to its (final) user at once
            db.execute("CREATE TEMP TABLE IF NOT EXISTS link_moves (source TEXT PRIMARY KEY, user_id TEXT)")
            db.execute("DELETE FROM link_moves")
            db.executemany("INSERT INTO link_moves(source, user_id) VALUES (?, ?)", moves)
            db.execute(
                "UPDATE identities SET user_id = (SELECT m.user_id FROM link_moves m "
                "WHERE m.source = identities.user_id) WHERE user_id IN (SELECT source FROM link_moves)"
            )
            db.execute(
                "INSERT OR IGNORE INTO identities(source, user_id) SELECT source, user_id FROM link_moves"
            )
            db.execute(
                "INSERT OR IGNORE INTO daily_users(date, user_id) "
                "SELECT d.date, m.user_id FROM link_moves m JOIN daily_users d ON d.user_id = m.source"
            )
            db.execute("DELETE FROM daily_users WHERE user_id IN (SELECT source FROM link_moves)")
            db.execute(
                "UPDATE user_sessions SET user_id = (SELECT m.user_id FROM link_moves m "
                "WHERE m.source = user_sessions.user_id) WHERE user_id IN (SELECT source FROM link_moves)"
            )
        db.executemany(
            "INSERT INTO daily_stats(date, tool_id, event_type, count) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (date, tool_id, event_type) DO UPDATE SET count = count + excluded.count",
            [(d.isoformat(), tool, etype, n) for (d, tool, etype), n in delta.counts.items()],
        )
        if delta.users:
            db.executemany(
                "INSERT OR IGNORE INTO daily_users(date, user_id) VALUES (?, ?)",
                [(d.isoformat(), user) for d, user in delta.users],
            )
        if delta.sessions:
            db.executemany(
                "INSERT INTO user_sessions(session_id, user_id, start_time, last_activity, events_count) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET user_id = excluded.user_id, "
                "start_time = excluded.start_time, last_activity = excluded.last_activity, "
                "events_count = excluded.events_count",
                [
                    (s.session_id, s.user_id, st, st if s.last == s.start else ts_text(s.last), s.count)
                    for s in delta.sessions
                    if (st := ts_text(s.start))  # a new session's last is often its start: one format
                ],
            )

    def quarantine(self, tailer: str, rejects: Sequence[TailReject]) -> None:
        now = ts_text(utcnow())
        self.db.executemany(
            "INSERT OR IGNORE INTO tail_quarantine"
            "(tailer, file, file_offset, reason, fragment, quarantined_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(tailer, r.file, r.offset, r.reason, r.fragment, now) for r in rejects],
        )

    def save_checkpoint(self, tailer: str, changes: Mapping[str, int]) -> None:
        self.db.executemany(
            "INSERT INTO tail_checkpoints(tailer, file, file_offset) VALUES (?, ?, ?) "
            "ON CONFLICT (tailer, file) DO UPDATE SET file_offset = excluded.file_offset",
            [(tailer, f, o) for f, o in changes.items()],
        )

    def serialize(self) -> None:
        """Nothing to wait for: the transaction holds SQLite's write lock already."""

    def first_seen(self, ids: Sequence[str], received: Sequence[str], window_hours: int) -> list[bool]:
        out = []
        for message_id, at in zip(ids, received, strict=True):
            cur = self.db.execute(
                "INSERT OR IGNORE INTO realtime_seen (message_id, received_at) VALUES (?, ?)",
                (message_id, at),
            )
            out.append(cur.rowcount == 1)
        if received:
            newest = datetime.fromisoformat(max(received).replace("Z", "+00:00"))
            cutoff = (newest - timedelta(hours=window_hours)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self.db.execute("DELETE FROM realtime_seen WHERE received_at < ?", (cutoff,))
        return out


def prepare(db: sqlite3.Connection) -> None:
    """Deleted content is overwritten with zeros, in b-tree pages and free-list pages alike, so a
    person forgotten (:func:`forget`) leaves no bytes in the file; set on every connection of the
    store, since the tailer's link moves delete ids too. Debian's SQLite is built with it on, most
    others (python.org, macOS) with it off: hence set here, not assumed. Measured with
    bench/bench_tailer.py (300,000 realistic events, 5 runs each, explicit OFF vs ON): tailer CPU
    9.4 vs 10.0 us/event for a full tail, 10.5 vs 10.3 steady, within the runs' spread, and the
    same bytes written: the tailer mostly inserts and updates, and the WAL holds whole pages
    either way. Temporary tables are made when needed."""
    db.execute("PRAGMA secure_delete = ON")


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[SqliteRealtimeTx]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield SqliteRealtimeTx(db)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def load_checkpoint(db: sqlite3.Connection, tailer: str) -> dict[str, int]:
    rows = db.execute("SELECT file, file_offset FROM tail_checkpoints WHERE tailer = ?", (tailer,))
    return {f: int(o) for f, o in rows}


def daily(db: sqlite3.Connection, day: date) -> DailyTotals:
    rows = db.execute(
        "SELECT tool_id, event_type, count FROM daily_stats WHERE date = ? ORDER BY tool_id, event_type",
        (day.isoformat(),),
    ).fetchall()
    (users,) = db.execute("SELECT COUNT(*) FROM daily_users WHERE date = ?", (day.isoformat(),)).fetchone()
    return DailyTotals(day, [DailyRow(r[0], r[1], int(r[2])) for r in rows], int(users))


def sessions(db: sqlite3.Connection, active_at: datetime | None, limit: int) -> tuple[int, list[Session]]:
    where: str = ""
    params: tuple[str, ...] = ()
    if active_at is not None:
        where = " WHERE last_activity >= ? AND start_time > ?"
        params = (ts_text(active_at - INACTIVITY), ts_text(active_at - MAX_LENGTH))
    (total,) = db.execute("SELECT COUNT(*) FROM user_sessions" + where, params).fetchone()
    rows = db.execute(
        "SELECT session_id, user_id, start_time, last_activity, events_count FROM user_sessions"
        + where
        + " ORDER BY last_activity DESC, session_id LIMIT ?",
        (*params, limit),
    ).fetchall()
    return int(total), [Session(r[0], r[1], ts_parse(r[2]), ts_parse(r[3]), int(r[4])) for r in rows]


def quarantined(db: sqlite3.Connection, tailer: str) -> list[TailReject]:
    rows = db.execute(
        "SELECT file, file_offset, reason, fragment FROM tail_quarantine WHERE tailer = ? "
        "ORDER BY file, file_offset",
        (tailer,),
    )
    return [TailReject(r[0], int(r[1]), r[2], r[3]) for r in rows]


def reset(
    db: sqlite3.Connection, tailer: str, from_day: date | None, since: datetime | None, files: Iterable[str]
) -> None:
    with write_transaction(db):
        if from_day is None:
            for table in ("daily_stats", "daily_users", "user_sessions", "identities"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM tail_checkpoints WHERE tailer = ?", (tailer,))
            db.execute("DELETE FROM tail_quarantine WHERE tailer = ?", (tailer,))
            return
        db.execute("DELETE FROM daily_stats WHERE date >= ?", (from_day.isoformat(),))
        db.execute("DELETE FROM daily_users WHERE date >= ?", (from_day.isoformat(),))
        if since is not None:
            db.execute("DELETE FROM user_sessions WHERE last_activity >= ?", (ts_text(since),))
        for f in files:
            db.execute("DELETE FROM tail_checkpoints WHERE tailer = ? AND file = ?", (tailer, f))
            db.execute("DELETE FROM tail_quarantine WHERE tailer = ? AND file = ?", (tailer, f))


def forget(db: sqlite3.Connection, ids: Collection[str]) -> dict[str, int]:
    """RealtimeStore.forget on SQLite: the deletes in one write transaction, then the WAL written
    back into the database file and truncated, so the old page images holding the ids leave it
    too (secure_delete, set by :func:`prepare`, already zeroed the freed space in the new ones)."""
    removed = dict.fromkeys(FORGET_TABLES, 0)
    plain = plain_ids(ids)
    if plain:
        with write_transaction(db):
            # the ids linked to the person are the person's (an id's first link wins)
            plain |= plain_ids(_in(db, "SELECT source", "identities", "user_id", actor_keys(plain)))
            keys = actor_keys(plain)
            for table, column in PERSON_COLUMNS:
                removed[table] += _deleted(db, table, column, keys)
            matcher = TokenMatcher(plain)
            for table, column, key in TEXT_TABLES:
                found = db.execute(
                    f"SELECT {', '.join(key)}, {column} FROM {table} "
                    f"WHERE {' OR '.join(f'instr({column}, ?) > 0' for _ in matcher.needles)}",
                    matcher.needles,
                )
                doomed = {tuple(r[:-1]) for r in found if matcher.matches(r[-1])}
                where = " AND ".join(f"{k} = ?" for k in key)
                for row in doomed:
                    removed[table] += db.execute(f"DELETE FROM {table} WHERE {where}", row).rowcount
    _truncate_wal(db)
    return removed


def _in(db: sqlite3.Connection, head: str, table: str, column: str, keys: list[str]) -> list[str]:
    return [
        str(r[0])
        for part in _chunks(keys)
        for r in db.execute(f"{head} FROM {table} WHERE {column} IN ({','.join('?' * len(part))})", part)
    ]


def _deleted(db: sqlite3.Connection, table: str, column: str, keys: list[str]) -> int:
    n = 0
    for part in _chunks(keys):
        n += db.execute(f"DELETE FROM {table} WHERE {column} IN ({','.join('?' * len(part))})", part).rowcount
    return n


def _truncate_wal(db: sqlite3.Connection, attempts: int = 3) -> None:
    """Checkpoint the WAL into the file and truncate it (each attempt waits for readers up to the
    busy timeout); an error when readers never let go, so that the caller runs forget again."""
    for _ in range(attempts):
        busy, _log, _done = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if not busy:
            return
    raise StoreUnavailableError(
        "the forgotten rows are deleted, but readers kept the write-ahead log from being truncated:"
        " its old pages still hold them on disk until it is (run the deletion again)"
    )
