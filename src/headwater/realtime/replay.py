"""Rebuilding the realtime store from the log (`headwater replay realtime [--from DATE]`).

Full replay: forget every aggregate and the checkpoint in one transaction, then tail the whole
log. ``--from D``: first catch up, then forget the days >= D (and sessions active since D's
midnight) and the checkpoints of the files that can hold such events (received from D-2 on:
timestamps are at most 23 h ahead of receipt and zones at most 14 h off UTC), and re-read those
files counting only events of days >= D. Daily counts and unique users then equal a full replay;
a session that straddles D's midnight restarts at the first re-read event (docs/realtime.md).

A replay is events re-entering: the events of people suppressed when it starts (any id a line
names: userId, anonymousId, an alias's previousId) are skipped, and counted (docs/privacy.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from headwater.collector.suppression import SuppressedIds, suppression_list
from headwater.collector.unsuppressed import Unsuppressed
from headwater.config import Settings
from headwater.log.files import list_log_files
from headwater.log.tailing.rebuild import Rebuild, RebuildResult
from headwater.log.tailing.service import TailerLock
from headwater.log.tailing.tailer import Tailer
from headwater.realtime.rows import LoggedEvent
from headwater.realtime.target import REALTIME_TAILER, RealtimeTarget
from headwater.stores.sql.ports import RealtimeStore
from headwater.stores.sql.realtime import open_realtime_store

#: Lines per batch of the realtime tailer running alone (a rebuild, `headwater tail realtime`; ~25 MB
#: of memory at its peak), and while it is behind (PostgreSQL: 5,000 applied 20 % slower). In the
#: server it takes the batches of every tailer there (log.tailing.service.BATCH_LINES), to share them.
BATCH_LINES = 10_000
CATCH_UP_LINES = 10_000


class TailerBusyError(RuntimeError):
    pass


def rebuild_realtime(settings: Settings) -> Rebuild:
    """The realtime store's rebuild (for the server's tailer service and the CLI): it opens its
    own connection; called with the tailer's lock held."""

    def rebuild(
        from_day: date | None, stop: threading.Event, on_step: Callable[[Tailer[Any]], None] | None
    ) -> RebuildResult:
        store = open_realtime_store(settings.effective_database_url)
        try:
            return _rebuild(settings, store, from_day, stop, on_step)
        finally:
            store.close()

    return rebuild


def replay_realtime(
    settings: Settings,
    store: RealtimeStore,
    from_day: date | None = None,
    on_step: Callable[[Tailer[Any]], None] | None = None,
) -> RebuildResult:
    """Rebuild with no server running the tailer (TailerBusyError otherwise)."""
    lock = TailerLock(settings.run_dir, REALTIME_TAILER)
    if not lock.try_acquire():
        raise TailerBusyError(
            f"the {REALTIME_TAILER!r} tailer is running (process {lock.holder()}): stop `headwater serve` "
            f"or `headwater tail {REALTIME_TAILER}` first"
        )
    try:
        return _rebuild(settings, store, from_day, threading.Event(), on_step)
    finally:
        lock.release()


def _rebuild(
    settings: Settings,
    store: RealtimeStore,
    from_day: date | None,
    stop: threading.Event,
    on_step: Callable[[Tailer[Any]], None] | None,
) -> RebuildResult:
    tz = ZoneInfo(settings.timezone)
    suppressed = SuppressedIds(*suppression_list(settings.effective_database_url))
    if from_day is None:
        store.reset_realtime(REALTIME_TAILER)
    else:
        Tailer(
            REALTIME_TAILER,
            settings.log_dir,
            RealtimeTarget(store, tz, log_dir=settings.log_dir),
            LoggedEvent,
            max_lines=BATCH_LINES,
            catch_up_lines=CATCH_UP_LINES,
        ).run(stop, until_caught_up=True, max_backoff=1.0, max_failures=10)
        first_file_day = from_day - timedelta(days=2)
        files = [lf.name for lf in list_log_files(settings.log_dir) if lf.day >= first_file_day]
        since = datetime.combine(from_day, time(0), tz)
        store.reset_realtime(REALTIME_TAILER, from_day, since, files)
    target = Unsuppressed(RealtimeTarget(store, tz, min_day=from_day, log_dir=settings.log_dir), suppressed)
    tailer = Tailer(
        REALTIME_TAILER,
        settings.log_dir,
        target,
        LoggedEvent,
        max_lines=BATCH_LINES,
        on_step=on_step,
        catch_up_lines=CATCH_UP_LINES,
    )
    tailer.run(stop, until_caught_up=True, max_backoff=1.0, max_failures=10)
    st = tailer.status
    return RebuildResult(st.applied_events - target.skipped, st.rejected_lines, target.skipped)
