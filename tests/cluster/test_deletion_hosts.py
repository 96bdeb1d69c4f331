"""A deletion in a cluster erases every host's own log files (docs/scale-out.md, "Deletions in a
cluster"): each host's runner erases its disk and records it; the host running the steps waits for
every alive host before the lake's step; a gone host makes the deletion PARTIAL_SUCCESS (ids kept)
until it is back and `privacy run` finishes it. Real PostgreSQL and a real GCS emulator; hosts are
data directories with their own writer ids."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from headwater.cluster.membership import announce
from headwater.config import Settings
from headwater.privacy.deletion import MAX_ATTEMPTS, SETTLE_SECONDS
from headwater.privacy.runner import DeletionRunner
from headwater.shipping.service import ship
from headwater.stores.sql.database import open_database
from headwater.stores.sql.leases import LeaseStore
from headwater.stores.sql.webhooks import SqlRegulations
from tests.batch.logdata import ev, write_log
from tests.cluster.test_pipeline import _host
from tests.object_stores import StoreServer
from tests.privacy.proof import ids_in_files

PERSON = "gone-person-4R"


def _log(host: Settings, user: str, days_back: int, n: int = 3, hour: int = 10) -> datetime:
    """The person's and another user's events in one hour of a day on this host's disk; the hour."""
    day = datetime.now(UTC).date() - timedelta(days=days_back)
    rows = [
        ev(f"{day}T{hour}:0{i}:00Z", user=who) for i in range(n) for who in (user, f"kept-{host.writer_id}")
    ]
    write_log(host.data_dir, rows, writer=host.writer_id)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def runners() -> Iterator[list[DeletionRunner]]:
    """The deletion runners a test makes (their databases closed after it)."""
    made: list[DeletionRunner] = []
    yield made
    for runner in made:
        runner.deletion.database.close()


def _runner(made: list[DeletionRunner], host: Settings) -> DeletionRunner:
    made.append(DeletionRunner(host, open_database(host.effective_database_url), None))
    return made[-1]


def test_every_host_erases_its_own_files_before_the_deletion_finishes(
    gcs: StoreServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pg_url: str,
    runners: list[DeletionRunner],
) -> None:
    bucket = gcs.new_bucket(monkeypatch)
    a, b = (_host(tmp_path, n, bucket, pg_url) for n in ("host-a", "host-b"))
    hours: list[datetime] = []
    for host, at in ((a, 10), (b, 14)):
        hours.append(_log(host, PERSON, 2, hour=at))  # a closed day, shipped below
        hours.append(_log(host, PERSON, 0, hour=at))  # today's file, on this host's disk only
        assert ship(host).errors == {}
        announce(host)
    by_host = {h.writer_id: _runner(runners, h) for h in (a, b)}
    with psycopg.connect(pg_url, autocommit=True) as db:  # the hours' unique users: the person, another
        for hour in hours:
            db.execute("INSERT INTO hourly_stats VALUES (%s, '', 'Clicked', 2, 6)", (hour,))
    regulations = SqlRegulations(by_host["host-a"].deletion.database)
    rid = regulations.file("DELETE_ONLY", {"userId": PERSON}, "test")["id"]
    time.sleep(SETTLE_SECONDS + 0.1)

    by_host["host-a"].run_pending()  # a erases its disk, then waits for b in the `hosts` step
    entry = regulations.get(rid)
    assert entry is not None and entry["status"] == "RUNNING"
    assert entry["progress"]["hosts"] == {"status": "WAITING", "waiting_for": ["host-b"]}
    assert ids_in_files(a.data_dir / "log", [PERSON]) == {}
    assert ids_in_files(b.data_dir / "log", [PERSON])  # b's disk: b's to erase
    assert sorted(regulations.hosts_done(rid)) == ["host-a", "~plan"]  # its part, and the plan's hours

    by_host["host-b"].run_pending()  # b erases its disk, takes the free lease and finishes the steps
    entry = regulations.get(rid)
    assert entry is not None and entry["status"] == "FINISHED", entry["progress"]
    assert sorted(entry["progress"]["hosts"]["hosts"]) == ["host-a", "host-b"]
    for host in (a, b):
        assert ids_in_files(host.data_dir / "log", [PERSON]) == {}
        assert ids_in_files(host.data_dir / "log", [f"kept-{host.writer_id}"])  # the others stay
    assert PERSON not in str(entry["subject"])  # only keyed hashes from now on
    # the hourly unique users of both hosts' hours lost the person: the plan ran on host-a, the
    # realtime step on host-b, each host noted the hours of its own lines
    with psycopg.connect(pg_url) as db:
        got: dict[datetime, int] = dict(db.execute("SELECT hour, unique_users FROM hourly_stats").fetchall())
    assert got == {hour: 1 for hour in hours}


def test_a_gone_host_keeps_the_deletion_partial_until_it_is_back(
    gcs: StoreServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pg_url: str,
    runners: list[DeletionRunner],
) -> None:
    bucket = gcs.new_bucket(monkeypatch)
    a, c = (_host(tmp_path, n, bucket, pg_url) for n in ("host-a", "host-c"))
    for host in (a, c):
        _log(host, PERSON, 0)
    announce(a)
    with LeaseStore(pg_url) as leases:  # host-c's presence expired: it is gone
        assert leases.acquire("host/host-c", "host-c@elsewhere:1", 0.05) is not None
    time.sleep(0.2)
    runner = _runner(runners, a)
    regulations = SqlRegulations(runner.deletion.database)
    rid = regulations.file("DELETE_ONLY", {"userId": PERSON}, "test")["id"]
    time.sleep(SETTLE_SECONDS + 0.1)
    for _ in range(MAX_ATTEMPTS):
        entry = runner.deletion.run(rid)
    assert entry["status"] == "PARTIAL_SUCCESS", entry["progress"]
    assert "host-c (gone" in entry["progress"]["hosts"]["error"]
    assert PERSON in str(entry["subject"])  # the ids are kept until every host erased its files

    back = _runner(runners, c)
    assert back.erase_here_all() == [rid]  # host-c is back: its runner erases its disk
    assert ids_in_files(c.data_dir / "log", [PERSON]) == {}
    announce(c)
    entry = runner.deletion.run(rid)  # `headwater privacy run ID`
    assert entry["status"] == "FINISHED", entry["progress"]
    assert PERSON not in str(entry["subject"])
