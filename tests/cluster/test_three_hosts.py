"""Three hosts, each in its own network namespace, with one PostgreSQL, a 3-master Redis Cluster and
a GCS emulator on the network they share (docs/scale-out.md): clients spread over the hosts and
retry elsewhere when a host fails; one host is killed with kill -9 under load and restarted; the
pipeline lease holder is killed in the middle of the ETL. Every acknowledged event is in the lake
exactly once, and DAU, sessions and daily_stats equal a count by hand.

The day is closed by running the hosts' turns (`headwater cluster turn`) a day later on the clock
of those processes (libfaketime): shipping and the pipeline see the day over, as they would after
midnight, while PostgreSQL and the object store keep the real time."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psycopg
import pytest

from headwater.cluster.lake_mirror import local_files
from tests.cluster.hosts import SHM, Host, clean_faketime_shm, faketime, services
from tests.cluster.netns import network
from tests.helpers import cli


class Clients:
    """Clients behind a load balancer: each batch goes to the next host; a failure (no answer,
    5xx) sends the same batch, same messageIds, to the next one, until one acknowledges it."""

    def __init__(self, hosts: list[Host], key: str, users: int = 40) -> None:
        self.hosts, self.key, self.users = hosts, key, users
        self.acked: dict[str, str] = {}  # messageId -> userId
        self.retries = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(3)]

    def __enter__(self) -> Clients:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def _run(self, n: int) -> None:
        turn = n
        with httpx.Client(timeout=5) as http:
            while not self._stop.is_set():
                batch = [
                    {
                        "type": "track",
                        "event": "Clicked",
                        "userId": f"user-{(turn * 7 + k) % self.users}",
                        "messageId": str(uuid.uuid4()),
                        "properties": {"tool_id": "editor"},
                    }
                    for k in range(5)
                ]
                while True:
                    host = self.hosts[turn % len(self.hosts)]
                    turn += 1
                    try:
                        r = http.post(
                            host.url + "/v1/batch", json={"batch": batch}, headers={"X-Write-Key": self.key}
                        )
                        if r.status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    self.retries += 1
                    time.sleep(0.05)
                with self._lock:
                    self.acked.update({e["messageId"]: e["userId"] for e in batch})
                time.sleep(0.02)


def _caught_up(hosts: list[Host]) -> None:
    """Every host's realtime tailer has applied the whole log. A status says what the tailer's last
    step saw (it steps every 0.1 s when idle): "caught up" from a step before the last writes is
    stale, so the same caught-up status, nothing applied, must be seen twice 0.5 s apart."""
    deadline = time.monotonic() + 120
    before: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        states = [h.checks().get("tailer_realtime", {}) for h in hosts]
        done = all(s.get("state") == "caught_up" and not s.get("lag_events") for s in states)
        applied = [s.get("applied_events") for s in states]
        if done and before and applied == [s.get("applied_events") for s in before]:
            return
        before = states if done else []
        time.sleep(0.5)
    raise AssertionError(f"the tailers did not catch up: {states}")


def _lake_ids(data: Path) -> list[tuple[str, str]]:
    files = [str(data / "lake" / f) for f in local_files(data / "lake") if f.startswith("events/")]
    return [(str(m), str(u)) for m, u in duckdb.connect().execute(
        f"SELECT message_id, user_id FROM read_parquet({files})"
    ).fetchall()]  # fmt: skip


@pytest.fixture
def no_faketime_leftovers() -> Iterator[None]:
    started = time.time() - 1
    yield
    clean_faketime_shm(started)
    left = [*SHM.glob("faketime_shm_*"), *SHM.glob("sem.faketime_sem_*")]
    assert not [p for p in left if p.stat().st_mtime >= started], left


def test_three_hosts_kill_nine_and_a_lease_holder_killed_mid_etl(
    tmp_path: Path, no_faketime_leftovers: None
) -> None:
    with network(3) as net, services(net.gateway, tmp_path) as env:
        hosts = [Host(net, i, tmp_path, env) for i in range(3)]
        key = cli(hosts[0].data, "keys", "create", "web", env=hosts[0].env).stdout.strip().splitlines()[-1]
        try:
            for h in hosts:
                h.start()
            with Clients(hosts, key) as load:
                time.sleep(3)
                hosts[1].kill9()  # under load: its clients retry on the other hosts
                time.sleep(2)
                hosts[1].start()
                time.sleep(3)
            acked = dict(load.acked)
            assert len(acked) > 200 and load.retries > 0
            _caught_up(hosts)
            day = datetime.now(UTC).date()

            # realtime: each acknowledged event once, one session per user, whichever host took it
            with psycopg.connect(env["HEADWATER_DATABASE_URL"]) as conn:
                stats = conn.execute(
                    b"SELECT sum(count) FROM daily_stats WHERE event_type = 'Clicked'"
                ).fetchone()
                users = conn.execute(b"SELECT count(*) FROM daily_users").fetchone()
                sessions = conn.execute(
                    b"SELECT user_id, count(*), sum(events_count) FROM user_sessions GROUP BY user_id"
                ).fetchall()
            by_user: dict[str, int] = {}
            for u in acked.values():
                by_user[u] = by_user.get(u, 0) + 1
            assert stats is not None and int(stats[0]) == len(acked)
            assert users is not None and users[0] == len(by_user)
            assert {u: (int(n), int(e)) for u, n, e in sessions} == {u: (1, n) for u, n in by_user.items()}

            for h in hosts:
                h.stop()
            # the lease holder dies in the middle of the ETL
            first = hosts[0].start_turn()
            stage = hosts[0].data / "run" / "cluster-log"
            deadline = time.monotonic() + 120
            while not (stage.is_dir() and any(stage.iterdir())) and time.monotonic() < deadline:
                assert first.poll() is None, first.returncode
                time.sleep(0.02)
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
            held = hosts[1].turn()
            assert held["pipeline"] is None and held["pipeline_holder"].startswith("host-a@"), held
            time.sleep(4.5)  # the dead holder's lease expires
            taken = hosts[1].turn()
            assert taken["pipeline"] is not None and taken["pipeline"]["loaded"] == [day.isoformat()], taken
            # c ships its files at its turn and loads the day again with them; a and b pull that lake
            later = [h.turn() for h in (hosts[2], hosts[0], hosts[1])]
            assert [t["errors"] for t in later] == [{}, {}, {}], later
            assert later[0]["pipeline"]["loaded"] == [day.isoformat()], later[0]
            assert [t["pipeline"]["loaded"] for t in later[1:]] == [[], []], later  # nothing pending

            for h in hosts:  # every host reads the same lake: every acknowledged event, once
                rows = _lake_ids(h.data)
                assert len(rows) == len({m for m, _ in rows}) == len(acked), h.name
                assert dict(rows) == acked, h.name
            dates = ("--start", str(day), "--end", str(day))
            shifted = {**hosts[2].env, **faketime(1)}
            dau = json.loads(cli(hosts[2].data, "metrics", "dau", *dates, "--json", env=shifted).stdout)
            assert [r["value"] for r in dau["rows"]] == [len(by_user)], dau
        finally:
            for h in hosts:
                h.stop()
