"""Two hosts' realtime tailers on one PostgreSQL (docs/scale-out.md): each with its own checkpoint
name, applies serialized in the store, dedup in the store. A user whose requests land on both
hosts has one session, and a retry that the other host received counts once."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from headwater.log.tailing.tailer import Tailer
from headwater.realtime.rows import LoggedEvent
from headwater.realtime.target import RealtimeTarget
from headwater.stores.sql.realtime import open_realtime_store
from tests.realtime.logdata import T0, append, event, log_file, minutes

USERS = 30
STEPS = 9  # one event every 5 minutes: one session per user


def _write_hosts(tmp_path: Path) -> tuple[Path, Path, int]:
    a, b = tmp_path / "a" / "log", tmp_path / "b" / "log"
    fa, fb = log_file(a, "host-a"), log_file(b, "host-b")
    retries = 0
    for step in range(STEPS):
        for u in range(USERS):
            at = T0 + minutes(5 * step) + timedelta(seconds=u)
            ev = event(user=f"u{u}", at=at, name="Tool Used" if step else "Signed Up")
            # the load balancer alternates: a user's requests land on both hosts
            append(fa if (u + step) % 2 else fb, ev)
            if step == 4 and u % 3 == 0:  # the client timed out and sent it again, to the other host
                retry = {**ev, "receivedAt": ev["receivedAt"].replace(":00.", ":01.")}
                append(fb if (u + step) % 2 else fa, retry)
                retries += 1
    return a, b, retries


def _tail_both(url: str, a: Path, b: Path) -> list[RealtimeTarget]:
    targets = []
    tailers = []
    for name, log_dir in (("realtime@host-a", a), ("realtime@host-b", b)):
        target = RealtimeTarget(open_realtime_store(url), T0.tzinfo)  # type: ignore[arg-type]
        target.shared = True
        targets.append(target)
        tailers.append(Tailer(name, log_dir, target, LoggedEvent, max_lines=11))
    threads = [
        threading.Thread(
            target=t.run, args=(threading.Event(),), kwargs={"until_caught_up": True, "max_backoff": 0.05}
        )
        for t in tailers
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    for target in targets:
        target.store.close()  # type: ignore[attr-defined]
    return targets


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql.encode()).fetchall())


def test_two_hosts_count_each_event_user_and_session_once(tmp_path: Path, pg_url: str) -> None:
    a, b, retries = _write_hosts(tmp_path)
    assert retries == 10
    targets = _tail_both(pg_url, a, b)
    assert sum(t.duplicates for t in targets) == retries  # dropped by the store's dedup
    stats = dict(_query(pg_url, "SELECT event_type, sum(count) FROM daily_stats GROUP BY event_type"))
    assert stats == {"Signed Up": USERS, "Tool Used": USERS * (STEPS - 1)}, stats
    assert _query(pg_url, "SELECT count(*) FROM daily_users") == [(USERS,)]
    sessions = _query(
        pg_url, "SELECT user_id, count(*), sum(events_count) FROM user_sessions GROUP BY user_id"
    )
    assert len(sessions) == USERS
    assert {(n, int(e)) for _, n, e in sessions} == {(1, STEPS)}, sessions
    checkpoints = _query(pg_url, "SELECT tailer, file FROM tail_checkpoints ORDER BY 1")
    assert checkpoints == [
        ("realtime@host-a", "events-20261125.host-a.jsonl"),
        ("realtime@host-b", "events-20261125.host-b.jsonl"),
    ]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rt.sqlite3'}"


def test_the_store_dedup_contract(pg_url: str, sqlite_url: str) -> None:
    for url in (pg_url, sqlite_url):
        store = open_realtime_store(url)
        try:
            with store.transaction() as tx:
                tx.serialize()
                first = tx.first_seen(["m1", "m2", "m1"], ["2026-11-25T09:00:00.000Z"] * 3, 24)
            assert first == [True, True, False], url
            with store.transaction() as tx:  # remembered with the transaction; older ones forgotten
                again = tx.first_seen(["m2", "m3"], ["2026-11-26T10:00:00.000Z"] * 2, 24)
            assert again == [False, True], url
            with store.transaction() as tx:
                later = tx.first_seen(["m1"], ["2026-11-26T10:00:01.000Z"], 24)
            assert later == [True], url  # out of the window (more than 24 hours before the newest)
        finally:
            store.close()
