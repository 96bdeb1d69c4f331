"""The warehouse export's ledger in the realtime store (tables of migration 6).

An hour is ``loading`` from before its load job until the transaction applying it has committed,
then ``done``. A crash in between leaves ``loading``: the hour is simply exported again, and the
export replaces the hour's rows, so nothing is counted twice. ``first_day..last_day`` only ever
widen: they bound every date the hour's rows were ever written under, so a re-export's delete
reaches all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from headwater.stores.sql.database import SqlDatabase, open_database


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class LedgerRow:
    kind: str
    hour: str
    state: str
    rows_loaded: int
    rows_rejected: int
    first_day: str | None
    last_day: str | None
    attempts: int
    started_at: str
    finished_at: str | None
    error: str | None


_COLUMNS = (
    "kind, hour, state, rows_loaded, rows_rejected, first_day, last_day, attempts, started_at,"
    " finished_at, error"
)


class WarehouseLedger:
    """Read and write the ledger; thread-safe (one connection behind a lock)."""

    def __init__(self, url: str) -> None:
        self.db: SqlDatabase = open_database(url)

    def close(self) -> None:
        self.db.close()

    def rows(self, kind: str | None = None) -> list[LedgerRow]:
        where, args = ("WHERE kind = {p}", (kind,)) if kind else ("", ())
        with self.db.tx(write=False) as cur:
            cur.execute(
                self.db.q(f"SELECT {_COLUMNS} FROM warehouse_exports {where} ORDER BY kind, hour"), args
            )
            return [LedgerRow(*r) for r in cur.fetchall()]

    def done_hours(self, kind: str) -> set[str]:
        with self.db.tx(write=False) as cur:
            cur.execute(
                self.db.q("SELECT hour FROM warehouse_exports WHERE kind = {p} AND state = 'done'"), (kind,)
            )
            return {str(r[0]) for r in cur.fetchall()}

    def get(self, kind: str, hour: str) -> LedgerRow | None:
        with self.db.tx(write=False) as cur:
            cur.execute(
                self.db.q(f"SELECT {_COLUMNS} FROM warehouse_exports WHERE kind = {{p}} AND hour = {{p}}"),
                (kind, hour),
            )
            row = cur.fetchone()
        return LedgerRow(*row) if row else None

    def begin(
        self, kind: str, hour: str, first_day: str | None, last_day: str | None
    ) -> tuple[str, str] | None:
        """Mark the hour ``loading`` (before anything is sent) and return the widened date range
        the apply must delete over (None: the hour never had rows and has none now)."""
        with self.db.tx() as cur:
            cur.execute(
                self.db.q(
                    "SELECT first_day, last_day, attempts FROM warehouse_exports"
                    " WHERE kind = {p} AND hour = {p}"
                ),
                (kind, hour),
            )
            old = cur.fetchone()
            days = [d for d in (first_day, last_day) if d] + ([d for d in old[:2] if d] if old else [])
            lo, hi = (min(days), max(days)) if days else (None, None)
            if old is None:
                cur.execute(
                    self.db.q(
                        "INSERT INTO warehouse_exports"
                        "(kind, hour, state, first_day, last_day, attempts, started_at)"
                        " VALUES ({p}, {p}, 'loading', {p}, {p}, 1, {p})"
                    ),
                    (kind, hour, lo, hi, _now()),
                )
            else:
                cur.execute(
                    self.db.q(
                        "UPDATE warehouse_exports SET state = 'loading', first_day = {p}, last_day = {p},"
                        " attempts = attempts + 1, started_at = {p}, finished_at = NULL"
                        " WHERE kind = {p} AND hour = {p}"
                    ),
                    (lo, hi, _now(), kind, hour),
                )
        return (lo, hi) if lo and hi else None

    def done(self, kind: str, hour: str, rows_loaded: int, rows_rejected: int, state: str = "done") -> None:
        """Record the hour applied (``partial``: an hour still open, exported again once closed)."""
        with self.db.tx() as cur:
            cur.execute(
                self.db.q(
                    "UPDATE warehouse_exports SET state = {p}, rows_loaded = {p}, rows_rejected = {p},"
                    " finished_at = {p}, error = NULL WHERE kind = {p} AND hour = {p}"
                ),
                (state, rows_loaded, rows_rejected, _now(), kind, hour),
            )

    def failed(self, kind: str, hour: str, error: str) -> None:
        with self.db.tx() as cur:
            cur.execute(
                self.db.q("UPDATE warehouse_exports SET error = {p} WHERE kind = {p} AND hour = {p}"),
                (error[:2000], kind, hour),
            )

    def forget(self, kind: str, hours: Iterable[str]) -> int:
        """Mark hours to be exported again (a backfill, a deletion that rewrote the log)."""
        n = 0
        with self.db.tx() as cur:
            for hour in hours:
                cur.execute(
                    self.db.q(
                        "UPDATE warehouse_exports SET state = 'due'"
                        " WHERE kind = {p} AND hour = {p} AND state = 'done'"
                    ),
                    (kind, hour),
                )
                n += max(cur.rowcount, 0)
        return n

    def reject(self, kind: str, hour: str, rejects: Sequence[tuple[str, str, str]]) -> None:
        """Record rows the warehouse cannot store: (id, reason, line). The hour's earlier rejects go."""
        now = _now()
        with self.db.tx() as cur:
            cur.execute(
                self.db.q("DELETE FROM warehouse_rejects WHERE kind = {p} AND hour = {p}"), (kind, hour)
            )
            if rejects:
                cur.executemany(
                    self.db.q(
                        "INSERT INTO warehouse_rejects(kind, hour, id, reason, line, rejected_at)"
                        " VALUES ({p}, {p}, {p}, {p}, {p}, {p})"
                    ),
                    list({(kind, hour, i, r, line[:65536], now) for i, r, line in rejects}),
                )

    def rejects(self, kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        where, args = ("WHERE kind = {p}", (kind,)) if kind else ("", ())
        with self.db.tx(write=False) as cur:
            cur.execute(
                self.db.q(
                    f"SELECT kind, hour, id, reason, rejected_at FROM warehouse_rejects {where}"
                    f" ORDER BY hour, id LIMIT {int(limit)}"
                ),
                args,
            )
            names = ("kind", "hour", "id", "reason", "rejected_at")
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def reject_count(self) -> int:
        with self.db.tx(write=False) as cur:
            cur.execute("SELECT count(*) FROM warehouse_rejects")
            row = cur.fetchone()
        return int(row[0]) if row else 0
