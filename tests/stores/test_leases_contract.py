"""Job leases (docs/scale-out.md) behave the same on SQLite and a real PostgreSQL: one holder at a
time, renewal by the holder only, takeover once expired or released, generations that fence a
holder which lost its lease."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.stores.sql.leases import LeaseStore


@pytest.fixture(params=["sqlite", "postgres"])
def leases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LeaseStore]:
    url = (
        f"sqlite:///{tmp_path / 'rt.sqlite3'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    with LeaseStore(url) as store:
        yield store


def test_one_holder_at_a_time(leases: LeaseStore) -> None:
    a = leases.acquire("pipeline", "host-a", 30)
    assert a is not None and a.holder == "host-a" and a.generation == 1 and a.held
    assert leases.acquire("pipeline", "host-b", 30) is None  # held: refused
    again = leases.acquire("pipeline", "host-a", 30)  # the holder asking again keeps its generation
    assert again is not None and again.generation == 1
    assert leases.acquire("alerts", "host-b", 30) is not None  # another job is another lease
    [alerts, pipeline] = leases.list()
    assert (alerts.job, alerts.holder, pipeline.job, pipeline.holder) == (
        "alerts",
        "host-b",
        "pipeline",
        "host-a",
    )


def test_expired_lease_is_taken_over_and_fences_the_old_holder(leases: LeaseStore) -> None:
    a = leases.acquire("pipeline", "host-a", 0.3)
    assert a is not None
    assert leases.renew(a, 0.3) is not None  # renewed while held
    time.sleep(0.5)  # host-a stopped renewing (killed, paused)
    assert not leases.list()[0].held
    b = leases.acquire("pipeline", "host-b", 30)
    assert b is not None and b.generation == 2
    assert leases.renew(a, 30) is None  # the old holder learns it lost the lease
    assert leases.release(a) is False  # and cannot release the new holder's
    assert leases.list()[0].holder == "host-b" and leases.list()[0].held


def test_release_lets_another_take_it_at_once(leases: LeaseStore) -> None:
    a = leases.acquire("pipeline", "host-a", 300)
    assert a is not None and leases.release(a)
    assert not leases.list()[0].held
    b = leases.acquire("pipeline", "host-b", 300)
    assert b is not None and b.generation == 2
    assert leases.release_all("host-b") == ["pipeline"] and leases.release_all("host-b") == []


def test_racing_hosts_get_one_lease(leases: LeaseStore, tmp_path: Path) -> None:
    winners: list[str] = []
    stores = [LeaseStore(leases.db.url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))

    def race(i: int) -> None:
        barrier.wait()
        if stores[i].acquire("pipeline", f"host-{i}", 30) is not None:
            winners.append(f"host-{i}")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert len(winners) == 1, winners
    assert leases.list()[0].holder == winners[0]


def test_a_holder_says_what_it_is(leases: LeaseStore) -> None:
    lease = leases.acquire("host/a", "a@node", 30, {"writers": ["a"], "draining": False})
    assert lease is not None and lease.info == {"writers": ["a"], "draining": False}
    assert leases.list()[0].info == {"writers": ["a"], "draining": False}
    assert leases.list()[0].as_dict()["info"] == {"writers": ["a"], "draining": False}
