"""The hourly rollup: live store (real Redis, memory://) -> hourly_stats in SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from headwater.live.fold import LiveEvent
from headwater.live.rollup import CATCH_UP_HOURS, HourlyRollup
from headwater.live.target import LIVE_TAILER, LiveTarget
from headwater.log.tailing.tailer import Tailer
from headwater.stores.live.ports import Counters
from headwater.stores.sql.hourly import HourlyRow, HourlyStatsStore
from headwater.stores.sql.realtime import open_realtime_store
from tests.live.logdata import append, line, log_path
from tests.redis_services import RedisServer, counters_at, unique_namespace

CURRENT = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
H1 = CURRENT - timedelta(hours=2)
H2 = CURRENT - timedelta(hours=1)
AT = CURRENT + timedelta(minutes=30)  # the rollup's clock: H1 and H2 are complete, CURRENT is not


@pytest.fixture(params=["sqlite", "postgres"])
def realtime_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'realtime.sqlite3'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture()
def stats(realtime_url: str) -> Iterator[HourlyStatsStore]:
    s = HourlyStatsStore(realtime_url)
    yield s
    s.close()


def write_log(log_dir: Path) -> None:
    """H1: u1 x2 + u2 on editor/Clicked, u3 on viewer/Saved, one event without tool.
    H2: u1 on editor/Clicked. CURRENT: u9 (not complete: never rolled up)."""
    append(
        log_path(log_dir, H1),
        line("u1", H1 + timedelta(minutes=5), "editor"),
        line("u1", H1 + timedelta(minutes=6), "editor"),
        line("u2", H1 + timedelta(minutes=50), "editor"),
        line("u3", H1 + timedelta(minutes=59), "viewer", "Saved"),
        line(None, H1 + timedelta(minutes=10), None, "Opened", anon="a1"),
    )
    append(log_path(log_dir, H2), line("u1", H2 + timedelta(minutes=1), "editor"))
    append(log_path(log_dir, CURRENT), line("u9", CURRENT + timedelta(minutes=1), "editor"))


H1_ROWS = [
    HourlyRow("", "Opened", 1, 1),
    HourlyRow("editor", "Clicked", 2, 3),
    HourlyRow("viewer", "Saved", 1, 1),
]


def tail(store: Counters, log_dir: Path) -> LiveTarget:
    target = LiveTarget(store, log_dir)
    tailer = Tailer(LIVE_TAILER, log_dir, target, LiveEvent)
    tailer.run(threading.Event(), until_caught_up=True, max_backoff=0.05, max_failures=5)
    return target


def rollup(store: Counters, stats: HourlyStatsStore, epoch: str | None, at: datetime = AT) -> HourlyRollup:
    return HourlyRollup(store, lambda: stats, lambda: epoch, clock=at.timestamp)


def test_migration_3_creates_hourly_stats(realtime_url: str) -> None:
    store = open_realtime_store(realtime_url)
    try:
        assert store.db.schema_version() >= 3
        assert store.db.upgrade() == []  # nothing left to apply: version 3 is recorded
    finally:
        store.close()


@pytest.mark.parametrize("live", ["memory", "redis"])
def test_complete_hours_are_copied_once(
    live: str, stats: HourlyStatsStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    namespace = unique_namespace()
    if live == "memory":
        url = f"memory://?namespace={namespace}"
    else:
        url = f"{request.getfixturevalue('shared_redis')}?namespace={namespace}"
    store = counters_at(url)
    try:
        store.reset(LIVE_TAILER)
        write_log(tmp_path / "log")
        target = tail(store, tmp_path / "log")
        job = rollup(store, stats, target.epoch)
        written = job.run_once()
        assert H1 in written and H2 in written and CURRENT not in written
        assert len(written) == CATCH_UP_HOURS  # the empty hours before are recorded as written too
        h1 = stats.hour(H1)
        assert h1 is not None
        assert (h1.total_events, h1.unique_users, h1.rows) == (5, 4, H1_ROWS)
        h2 = stats.hour(H2)
        assert h2 is not None and h2.rows == [HourlyRow("editor", "Clicked", 1, 1)]
        assert stats.hour(CURRENT) is None
        empty = stats.hour(H1 - timedelta(hours=5))
        assert empty is not None and empty.rows == [] and empty.total_events == 0
        # idempotent: a second pass finds nothing changed, and writing again keeps one copy
        assert job.run_once() == []
        stats.write_hour(H1, 5, 4, H1_ROWS)
        assert stats.hour(H1) == h1
    finally:
        store.reset(LIVE_TAILER)
        store.close()


def test_numbers_survive_a_redis_restart(
    private_redis: RedisServer, stats: HourlyStatsStore, tmp_path: Path
) -> None:
    log_dir = tmp_path / "log"
    write_log(log_dir)
    store = counters_at(private_redis.url)
    try:
        target = tail(store, log_dir)
        assert H1 in rollup(store, stats, target.epoch).run_once()
        private_redis.stop()
        private_redis.start()  # no persistence: back empty
        assert store.load_checkpoint(LIVE_TAILER) is None
        # the tailer has not rebuilt yet: a pass under the old epoch reads nothing from the store
        assert rollup(store, stats, target.epoch).run_once() == []
        h1 = stats.hour(H1)
        assert h1 is not None and (h1.total_events, h1.unique_users, h1.rows) == (5, 4, H1_ROWS)
        # rebuilt from the log: the same numbers, so nothing is rewritten
        target = tail(store, log_dir)
        assert rollup(store, stats, target.epoch).run_once() == []
        assert stats.hour(H1) == h1
    finally:
        store.close()
    # and from a new connection to the realtime store, as after a restart of the server
    again = HourlyStatsStore(stats.url)
    try:
        found = again.hour(H1)
        assert found is not None and found.rows == H1_ROWS
    finally:
        again.close()


def test_a_store_that_lost_data_never_overwrites(stats: HourlyStatsStore, tmp_path: Path) -> None:
    """Reset and not yet rebuilt (new epoch, empty hours): the stored hour is kept."""
    store = counters_at(f"memory://?namespace={unique_namespace()}")
    log_dir = tmp_path / "log"
    write_log(log_dir)
    target = tail(store, log_dir)
    rollup(store, stats, target.epoch).run_once()
    store.reset(LIVE_TAILER)
    cp = store.init_checkpoint(LIVE_TAILER, {}, "new-epoch")
    assert rollup(store, stats, cp.epoch).run_once() == []
    h1 = stats.hour(H1)
    assert h1 is not None and h1.total_events == 5


def test_late_events_rewrite_a_settling_hour(stats: HourlyStatsStore, tmp_path: Path) -> None:
    store = counters_at(f"memory://?namespace={unique_namespace()}")
    log_dir = tmp_path / "log"
    write_log(log_dir)
    target = tail(store, log_dir)
    rollup(store, stats, target.epoch).run_once()
    # an offline client's event for H2 arrives now
    append(log_path(log_dir, CURRENT), line("u7", H2 + timedelta(minutes=30), "viewer", "Saved"))
    tail(store, log_dir)  # a new tailer loads the same epoch from the store
    assert rollup(store, stats, target.epoch).run_once() == [H2]
    h2 = stats.hour(H2)
    assert h2 is not None and (h2.total_events, h2.unique_users) == (2, 2)
    assert h2.rows == [HourlyRow("editor", "Clicked", 1, 1), HourlyRow("viewer", "Saved", 1, 1)]


def test_missed_hours_are_caught_up_and_not_ready_means_no_pass(
    stats: HourlyStatsStore, tmp_path: Path
) -> None:
    store = counters_at(f"memory://?namespace={unique_namespace()}")
    log_dir = tmp_path / "log"
    write_log(log_dir)
    target = tail(store, log_dir)
    assert rollup(store, stats, None).run_once() == []  # tailer behind or another process's
    assert stats.written_hours(H1 - timedelta(days=3)) == set()
    # the first pass only saw up to H1; three hours later the missed ones (H2 ... ) are written
    first = rollup(store, stats, target.epoch, at=H2 + timedelta(minutes=30)).run_once()
    assert max(first) == H1
    later = rollup(store, stats, target.epoch, at=AT + timedelta(hours=3)).run_once()
    assert H2 in later and CURRENT in later and CURRENT + timedelta(hours=2) in later
    current = stats.hour(CURRENT)
    assert current is not None and current.rows == [HourlyRow("editor", "Clicked", 1, 1)]
