"""``hourly_stats`` in the realtime store: each complete UTC hour copied from the live store.

Tables of migration 3 (SQLite or PostgreSQL): ``hourly_stats(hour, tool_id, event_type,
unique_users, total_events)`` and ``hourly_rollups(hour, total_events, unique_users, written_at)``,
one row per hour written (so an hour without events is known to be written, and the hour's own
unique users, which cannot be summed from the rows, are kept). Writing an hour replaces all its
rows in one transaction: an idempotent upsert. The store opens its own database handle from the
store's URL, so it never shares a connection with the realtime tailer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from headwater.stores.sql.database import SqlDatabase, open_database


@dataclass(frozen=True, slots=True, order=True)
class HourlyRow:
    tool_id: str  # '' when the events had none
    event_type: str
    unique_users: int
    total_events: int


@dataclass(frozen=True, slots=True)
class HourlyTotals:
    hour: datetime  # UTC, the hour's start
    total_events: int
    unique_users: int
    rows: list[HourlyRow]  # sorted by tool_id, event_type


def _hour_text(hour: datetime) -> str:
    return hour.astimezone(UTC).strftime("%Y-%m-%dT%H:00:00Z")


def _as_hour(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.strptime(str(value), "%Y-%m-%dT%H:00:00Z").replace(tzinfo=UTC)


class HourlyStatsStore:
    """Read and write ``hourly_stats``; thread-safe (one connection behind a lock)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db: SqlDatabase = open_database(url)

    def close(self) -> None:
        self.db.close()

    def _hour(self, hour: datetime) -> Any:
        return (
            hour.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            if self.db.dialect.native_timestamps
            else _hour_text(hour)
        )

    def write_hour(
        self, hour: datetime, total_events: int, unique_users: int, rows: Sequence[HourlyRow]
    ) -> None:
        """Replace the hour's rows (idempotent: writing the same hour twice leaves one copy)."""
        h = self._hour(hour)
        with self.db.tx() as cur:
            cur.execute(self.db.q("DELETE FROM hourly_stats WHERE hour = {p}"), (h,))
            cur.execute(self.db.q("DELETE FROM hourly_rollups WHERE hour = {p}"), (h,))
            if rows:
                cur.executemany(
                    self.db.q(
                        "INSERT INTO hourly_stats(hour, tool_id, event_type, unique_users, total_events) "
                        "VALUES ({p}, {p}, {p}, {p}, {p})"
                    ),
                    [(h, r.tool_id, r.event_type, r.unique_users, r.total_events) for r in rows],
                )
            written = datetime.now(UTC)
            cur.execute(
                self.db.q(
                    "INSERT INTO hourly_rollups(hour, total_events, unique_users, written_at) "
                    "VALUES ({p}, {p}, {p}, {p})"
                ),
                (h, total_events, unique_users, self.db.dialect.timestamp(written)),
            )

    def hour(self, hour: datetime) -> HourlyTotals | None:
        """The stored hour, or None when it was never written."""
        h = self._hour(hour)
        with self.db.tx(write=False) as cur:
            cur.execute(
                self.db.q("SELECT total_events, unique_users FROM hourly_rollups WHERE hour = {p}"), (h,)
            )
            head = cur.fetchone()
            if head is None:
                return None
            cur.execute(
                self.db.q(
                    "SELECT tool_id, event_type, unique_users, total_events FROM hourly_stats"
                    " WHERE hour = {p} ORDER BY tool_id, event_type"
                ),
                (h,),
            )
            rows = [HourlyRow(r[0], r[1], int(r[2]), int(r[3])) for r in cur.fetchall()]
        return HourlyTotals(_as_hour(h), int(head[0]), int(head[1]), rows)

    def written_hours(self, since: datetime) -> set[datetime]:
        """The hours at or after ``since`` already written."""
        with self.db.tx(write=False) as cur:
            cur.execute(self.db.q("SELECT hour FROM hourly_rollups WHERE hour >= {p}"), (self._hour(since),))
            return {_as_hour(r[0]) for r in cur.fetchall()}
