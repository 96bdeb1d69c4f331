"""The realtime aggregates in PostgreSQL: one apply transaction and the queries.

Each batch is written with COPY into session-private temporary tables (ON COMMIT DELETE ROWS),
then one INSERT ... SELECT ... ON CONFLICT per table: a handful of round trips per batch
whatever its size.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import psycopg

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
from headwater.stores.sql.ports import DailyRow, DailyTotals, Delta, utcnow

TEMP_TABLES = """
CREATE TEMP TABLE IF NOT EXISTS tmp_counts (date DATE, tool_id TEXT, event_type TEXT, n BIGINT)
    ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS tmp_users (date DATE, user_id TEXT) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS tmp_sessions (session_id TEXT, user_id TEXT, start_time TIMESTAMPTZ,
    last_activity TIMESTAMPTZ, events_count BIGINT) ON COMMIT DELETE ROWS;
"""


def _session(row: tuple[object, ...]) -> Session:
    start, last = row[2], row[3]
    assert isinstance(start, datetime) and isinstance(last, datetime)
    return Session(str(row[0]), str(row[1]), start.astimezone(UTC), last.astimezone(UTC), int(str(row[4])))


class PostgresRealtimeTx:
    def __init__(self, db: psycopg.Connection[Any]) -> None:
        self.db = db

    def checkpoint_of(self, tailer: str, files: Collection[str]) -> dict[str, int]:
        stored = self.checkpoint_all(tailer)
        return {f: stored.get(f, 0) for f in files}

    def checkpoint_all(self, tailer: str) -> dict[str, int]:
        """The tailer's whole stored checkpoint, its row locked until the transaction ends."""
        db = self.db
        db.execute("INSERT INTO tailers(name) VALUES (%s) ON CONFLICT DO NOTHING", (tailer,))
        db.execute("SELECT name FROM tailers WHERE name = %s FOR UPDATE", (tailer,))
        rows = db.execute(
            "SELECT file, file_offset FROM tail_checkpoints WHERE tailer = %s", (tailer,)
        ).fetchall()
        return {str(f): int(str(o)) for f, o in rows}

    def identities(self, keys: Collection[str]) -> dict[str, str]:
        if not keys:
            return {}
        rows = self.db.execute(
            "SELECT source, user_id FROM identities WHERE source = ANY(%s)", (list(keys),)
        ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def recent_sessions(self, since: Mapping[str, datetime]) -> list[Session]:
        if not since:
            return []
        rows = self.db.execute(
            "SELECT s.session_id, s.user_id, s.start_time, s.last_activity, s.events_count "
            "FROM unnest(%s::text[], %s::timestamptz[]) AS w(uid, since) "
            "JOIN user_sessions s ON s.user_id = w.uid AND s.last_activity >= w.since",
            (list(since.keys()), list(since.values())),
        ).fetchall()
        return [_session(r) for r in rows]

    def write_delta(self, delta: Delta) -> None:
        db = self.db
        moves = delta.link_moves()
        if moves:  # set-based: every new link's stored rows move to its (final) user at once
            m = "unnest(%s::text[], %s::text[]) AS m(source, user_id)"
            args = ([a for a, _ in moves], [b for _, b in moves])
            db.execute(
                f"UPDATE identities i SET user_id = m.user_id FROM {m} WHERE i.user_id = m.source", args
            )
            db.execute(
                f"INSERT INTO identities(source, user_id) SELECT source, user_id FROM {m} "
                "ON CONFLICT DO NOTHING",
                args,
            )
            db.execute(
                f"INSERT INTO daily_users(date, user_id) SELECT d.date, m.user_id FROM {m} "
                "JOIN daily_users d ON d.user_id = m.source ON CONFLICT DO NOTHING",
                args,
            )
            db.execute("DELETE FROM daily_users WHERE user_id = ANY(%s)", (args[0],))
            db.execute(
                f"UPDATE user_sessions s SET user_id = m.user_id FROM {m} WHERE s.user_id = m.source", args
            )
        with db.cursor() as cur:
            if delta.counts:
                with cur.copy(
                    "COPY tmp_counts (date, tool_id, event_type, n) FROM STDIN (FORMAT BINARY)"
                ) as cp:
                    cp.set_types(["date", "text", "text", "int8"])
                    for (d, tool, etype), n in delta.counts.items():
                        cp.write_row((d, tool, etype, n))
                cur.execute(
                    "INSERT INTO daily_stats(date, tool_id, event_type, count) "
                    "SELECT date, tool_id, event_type, n FROM tmp_counts "
                    "ON CONFLICT (date, tool_id, event_type) DO UPDATE SET count = daily_stats.count + "
                    "EXCLUDED.count"
                )
            if delta.users:
                with cur.copy("COPY tmp_users (date, user_id) FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(["date", "text"])
                    for row in delta.users:
                        cp.write_row(row)
                cur.execute(
                    "INSERT INTO daily_users(date, user_id) SELECT date, user_id FROM tmp_users "
                    "ON CONFLICT DO NOTHING"
                )
            if delta.sessions:
                with cur.copy(
                    "COPY tmp_sessions (session_id, user_id, start_time, last_activity, events_count) "
                    "FROM STDIN (FORMAT BINARY)"
                ) as cp:
                    cp.set_types(["text", "text", "timestamptz", "timestamptz", "int8"])
                    for s in delta.sessions:
                        cp.write_row((s.session_id, s.user_id, s.start, s.last, s.count))
                cur.execute(
                    "INSERT INTO user_sessions(session_id, user_id, start_time, last_activity, events_count) "
                    "SELECT session_id, user_id, start_time, last_activity, events_count FROM tmp_sessions "
                    "ON CONFLICT (session_id) DO UPDATE SET user_id = EXCLUDED.user_id, "
                    "start_time = EXCLUDED.start_time, last_activity = EXCLUDED.last_activity, "
                    "events_count = EXCLUDED.events_count"
                )

    def quarantine(self, tailer: str, rejects: Sequence[TailReject]) -> None:
        if not rejects:
            return
        now = utcnow()
        with self.db.cursor() as cur:
            cur.executemany(
                "INSERT INTO tail_quarantine(tailer, file, file_offset, reason, fragment, quarantined_at) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [
                    (tailer, r.file, r.offset, r.reason, r.fragment.replace("\x00", "\ufffd"), now)
                    for r in rejects
                ],
            )

    def save_checkpoint(self, tailer: str, changes: Mapping[str, int]) -> None:
        with self.db.cursor() as cur:
            cur.executemany(
                "INSERT INTO tail_checkpoints(tailer, file, file_offset) VALUES (%s, %s, %s) "
                "ON CONFLICT (tailer, file) DO UPDATE SET file_offset = EXCLUDED.file_offset",
                [(tailer, f, o) for f, o in changes.items()],
            )

    def serialize(self) -> None:
        self.db.execute("SELECT pg_advisory_xact_lock(%s)", (APPLY_LOCK,))

    def first_seen(self, ids: Sequence[str], received: Sequence[str], window_hours: int) -> list[bool]:
        if not ids:
            return []
        new = {
            str(r[0])
            for r in self.db.execute(
                "INSERT INTO realtime_seen (message_id, received_at)"
                " SELECT DISTINCT ON (m) m, r::timestamptz"
                " FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS t(m, r, i) ORDER BY m, i"
                " ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
                (list(ids), list(received)),
            ).fetchall()
        }
        self.db.execute(
            "DELETE FROM realtime_seen WHERE received_at < %s::timestamptz - make_interval(hours => %s)",
            (max(received), window_hours),
        )
        return _firsts(ids, new)


def _firsts(ids: Sequence[str], new: set[str]) -> list[bool]:
    out, taken = [], set()
    for message_id in ids:
        out.append(message_id in new and message_id not in taken)
        taken.add(message_id)
    return out


#: the advisory lock of the realtime applies of a cluster's hosts
APPLY_LOCK = 0x68770001


def prepare(db: psycopg.Connection[Any]) -> None:
    """The session-private temporary tables each batch is COPYed into, once per connection."""
    db.execute(TEMP_TABLES.encode())


@contextmanager
def write_transaction(db: psycopg.Connection[Any]) -> Iterator[PostgresRealtimeTx]:
    """A tailer's batch: its aggregates and its checkpoint in one transaction.

    The transaction commits without waiting for its WAL to reach the disk (synchronous_commit
    off, for this transaction only). A crash of PostgreSQL can then lose the last few batches,
    but data and checkpoint together, never one without the other: the tailer reads them again
    from the log, which is the source of truth, so every event still counts exactly once. Waiting
    for that fsync, behind the collector's own, was most of the PostgreSQL tailer's wait."""
    with db.transaction():
        db.execute("SET LOCAL synchronous_commit = off")
        yield PostgresRealtimeTx(db)


def load_checkpoint(db: psycopg.Connection[Any], tailer: str) -> dict[str, int]:
    rows = db.execute(
        "SELECT file, file_offset FROM tail_checkpoints WHERE tailer = %s", (tailer,)
    ).fetchall()
    return {str(f): int(str(o)) for f, o in rows}


def daily(db: psycopg.Connection[Any], day: date) -> DailyTotals:
    rows = db.execute(
        "SELECT tool_id, event_type, count FROM daily_stats WHERE date = %s ORDER BY tool_id, event_type",
        (day,),
    ).fetchall()
    row = db.execute("SELECT COUNT(*) FROM daily_users WHERE date = %s", (day,)).fetchone()
    users = int(str(row[0])) if row else 0
    return DailyTotals(day, [DailyRow(str(r[0]), str(r[1]), int(str(r[2]))) for r in rows], users)


def sessions(
    db: psycopg.Connection[Any], active_at: datetime | None, limit: int
) -> tuple[int, list[Session]]:
    where = ""
    params: tuple[datetime, ...] = ()
    if active_at is not None:
        where = " WHERE last_activity >= %s AND start_time > %s"
        params = (active_at - INACTIVITY, active_at - MAX_LENGTH)
    row = db.execute(("SELECT COUNT(*) FROM user_sessions" + where).encode(), params).fetchone()
    rows = db.execute(
        (
            "SELECT session_id, user_id, start_time, last_activity, events_count FROM user_sessions"
            + where
            + " ORDER BY last_activity DESC, session_id LIMIT %s"
        ).encode(),
        (*params, limit),
    ).fetchall()
    return (int(str(row[0])) if row else 0), [_session(r) for r in rows]


def quarantined(db: psycopg.Connection[Any], tailer: str) -> list[TailReject]:
    rows = db.execute(
        "SELECT file, file_offset, reason, fragment FROM tail_quarantine WHERE tailer = %s "
        "ORDER BY file, file_offset",
        (tailer,),
    ).fetchall()
    return [TailReject(str(r[0]), int(str(r[1])), str(r[2]), str(r[3])) for r in rows]


def reset(
    db: psycopg.Connection[Any],
    tailer: str,
    from_day: date | None,
    since: datetime | None,
    files: Iterable[str],
) -> None:
    with db.transaction():
        db.execute("INSERT INTO tailers(name) VALUES (%s) ON CONFLICT DO NOTHING", (tailer,))
        db.execute("SELECT name FROM tailers WHERE name = %s FOR UPDATE", (tailer,))
        if from_day is None:
            db.execute("TRUNCATE daily_stats, daily_users, user_sessions, identities")
            db.execute("DELETE FROM tail_checkpoints WHERE tailer = %s", (tailer,))
            db.execute("DELETE FROM tail_quarantine WHERE tailer = %s", (tailer,))
            return
        db.execute("DELETE FROM daily_stats WHERE date >= %s", (from_day,))
        db.execute("DELETE FROM daily_users WHERE date >= %s", (from_day,))
        if since is not None:
            db.execute("DELETE FROM user_sessions WHERE last_activity >= %s", (since,))
        names = list(files)
        db.execute("DELETE FROM tail_checkpoints WHERE tailer = %s AND file = ANY(%s)", (tailer, names))
        db.execute("DELETE FROM tail_quarantine WHERE tailer = %s AND file = ANY(%s)", (tailer, names))


def forget(db: psycopg.Connection[Any], ids: Collection[str]) -> dict[str, int]:
    """RealtimeStore.forget on PostgreSQL: the deletes in one transaction, then VACUUM of the
    tables, outside it (the connection is in autocommit), so the dead tuples' space is marked free
    at once. Free is not overwritten: their bytes stay in the data files until new rows reuse the
    space (or VACUUM FULL rewrites the table), and in the WAL segments until they are recycled;
    the VACUUM runs even when nothing was deleted, so a run that failed before it is finished by
    the next."""
    removed = dict.fromkeys(FORGET_TABLES, 0)
    plain = plain_ids(ids)
    if plain:
        with db.transaction():
            rows = db.execute(
                "SELECT source FROM identities WHERE user_id = ANY(%s)", (actor_keys(plain),)
            ).fetchall()
            plain |= plain_ids(str(r[0]) for r in rows)  # ids linked to the person are the person's
            keys = actor_keys(plain)
            for table, column in PERSON_COLUMNS:
                cur = db.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)".encode(), (keys,))
                removed[table] += cur.rowcount
            matcher = TokenMatcher(plain)
            needles = [n for n in matcher.needles if "\x00" not in n]  # text here holds none (U+FFFD)
            for table, column, key in TEXT_TABLES:
                found = db.execute(
                    f"SELECT {', '.join(key)}, {column} FROM {table} "
                    f"WHERE {' OR '.join(f'strpos({column}, %s) > 0' for _ in needles)}".encode(),
                    needles,
                ).fetchall()
                doomed = {tuple(r[:-1]) for r in found if matcher.matches(str(r[-1]))}
                where = " AND ".join(f"{k} = %s" for k in key)
                for row in doomed:
                    removed[table] += db.execute(f"DELETE FROM {table} WHERE {where}".encode(), row).rowcount
    db.execute(f"VACUUM {', '.join(FORGET_TABLES)}".encode())
    return removed
