"""The hourly rollup: each complete UTC hour copied from the live store into ``hourly_stats`` of the
realtime store (headwater.stores.sql.hourly), so the numbers outlive Redis' 48 hours and a
Redis restarted empty.

It runs next to the live tailer (same process, its own thread) and copies only while that tailer
is caught up under a known epoch, so it never copies a half-rebuilt store. Each pass writes:

- every complete hour still in the live store (the last ``CATCH_UP_HOURS``) not yet written: the
  catch-up after downtime, and the hour that just ended (``GRACE`` after its end, for the
  collector's group commit and the tailer's lag);
- again, the last ``SETTLE_HOURS`` complete hours, when their numbers changed: events sent late
  (offline mobile clients) still land in their own hour.

An hour's total in the live store can only grow (the log is append-only); a smaller one means the
live store lost data (restarted empty and not yet rebuilt past that hour), so the stored hour is
kept and a warning logged. Writing an hour replaces its rows: idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from headwater.live import queries
from headwater.live.buckets import LIVE_TAILER, RETENTION_S
from headwater.stores.live.ports import Counters
from headwater.stores.sql.hourly import HourlyRow, HourlyStatsStore

log = logging.getLogger("headwater.live")

GRACE = timedelta(minutes=2)
SETTLE_HOURS = 3
CATCH_UP_HOURS = RETENTION_S // 3600 - 2  # a margin before the live store's keys expire
INTERVAL_SECONDS = 30.0


def live_hour(store: Counters, hour: datetime) -> tuple[int, int, list[HourlyRow]]:
    """(events, unique users, rows) of one UTC hour in the live store."""
    answer = queries.hourly(store, hour)
    rows = [
        HourlyRow(r["tool_id"] or "", r["event_type"], int(r["unique_users"]), int(r["events"]))
        for r in answer["rows"]
    ]
    return int(answer["events"]), int(answer["unique_users"]), sorted(rows)


def complete_hours(now: datetime, count: int) -> list[datetime]:
    """The last ``count`` hours that ended at least GRACE before ``now``, oldest first."""
    latest = (now - GRACE).astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return [latest - timedelta(hours=i) for i in range(count - 1, -1, -1)]


class HourlyRollup:
    """One pass at a time (:meth:`run_once`); :meth:`run` loops in a thread until stopped.

    ``ready()`` returns the live tailer's epoch while it is caught up, else None (skip the pass).
    """

    def __init__(
        self,
        live: Counters,
        stats: Callable[[], HourlyStatsStore],
        ready: Callable[[], str | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.live = live
        self._open_stats = stats
        self._stats: HourlyStatsStore | None = None
        self.ready = ready
        self.clock = clock
        self.last_error: str | None = None
        self.hours_written = 0
        self.last_hour: datetime | None = None

    @property
    def stats(self) -> HourlyStatsStore:
        if self._stats is None:
            self._stats = self._open_stats()
        return self._stats

    def run_once(self) -> list[datetime]:
        """Write the due hours; return those written."""
        epoch = self.ready()
        if epoch is None:
            return []
        now = datetime.fromtimestamp(self.clock(), UTC)
        hours = complete_hours(now, CATCH_UP_HOURS)
        written = self.stats.written_hours(hours[0])
        settle = set(hours[-SETTLE_HOURS:])
        due = [h for h in hours if h not in written or h in settle]
        fetched = [(h, *live_hour(self.live, h)) for h in due]
        cp = self.live.load_checkpoint(LIVE_TAILER)
        if cp is None or cp.epoch != epoch:  # the store was reset while we read: read nothing from it
            return []
        done = []
        for hour, events, users, rows in fetched:
            if hour in written:
                stored = self.stats.hour(hour)
                if stored is not None:
                    if stored.total_events == events and stored.unique_users == users and stored.rows == rows:
                        continue
                    if events < stored.total_events:
                        log.warning(
                            "live store %s has %d events for %s, hourly_stats %d: keeping hourly_stats "
                            "(the live store lost data and is not rebuilt that far yet)",
                            self.live.url,
                            events,
                            f"{hour:%Y-%m-%dT%H}",
                            stored.total_events,
                        )
                        continue
            self.stats.write_hour(hour, events, users, rows)
            done.append(hour)
        if done:
            self.hours_written += len(done)
            self.last_hour = max(done)
        return done

    def run(self, stop: threading.Event, interval: float = INTERVAL_SECONDS) -> None:
        failures = 0
        while not stop.is_set():
            try:
                self.run_once()
                self.last_error, failures = None, 0
            except Exception as exc:  # a store down: retry at the next pass
                failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                if failures == 1 or failures % 20 == 0:
                    log.warning("hourly rollup failed, retrying: %s", self.last_error)
                if self._stats is not None and failures % 5 == 0:
                    self._stats.close()  # reconnect at the next pass
                    self._stats = None
            stop.wait(interval)

    def close(self) -> None:
        if self._stats is not None:
            self._stats.close()
            self._stats = None
