"""Faults of the realtime pipeline, each on a real server and a real database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.e2e.realtime.support import AUTH, TOKEN, post, wait_counts_match
from tests.helpers import Server, cli, create_key, free_port
from tests.services import PgInstance


def _events(i: int, n: int = 50) -> list[dict[str, Any]]:
    return [
        {
            "type": "track",
            "event": f"E{j % 3}",
            "userId": f"user-{(i * n + j) % 37}",
            "properties": {"tool_id": None if j % 5 == 0 else f"tool-{j % 4}"},
        }
        for j in range(n)
    ]


class Load(threading.Thread):
    def __init__(self, srv: Server, key: str) -> None:
        super().__init__(daemon=True)
        self.srv, self.key = srv, key
        self.stop = threading.Event()
        self.statuses: list[int] = []
        self.errors: list[str] = []

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            try:
                self.statuses.append(post(self.srv, self.key, _events(i)))
            except httpx.HTTPError as exc:
                self.statuses.append(-1)
                self.errors.append(f"{time.time():.3f} {type(exc).__name__}: {exc}")
            i += 1


@pytest.mark.parametrize("stop", ["fast", "immediate"])
def test_postgres_outage_under_load_loses_and_doubles_nothing(
    tmp_path: Path, private_pg: PgInstance, stop: str
) -> None:
    """A clean stop, and a crash ("immediate": no shutdown checkpoint). The tailer's transactions
    commit asynchronously, so a crash may lose its last batches, data and checkpoint together:
    they are applied again from the log."""
    with psycopg.connect(private_pg.admin_url, autocommit=True) as db:
        db.execute("CREATE DATABASE hw")
    env = {"HEADWATER_DATABASE_URL": private_pg.url("hw"), "HEADWATER_ADMIN_TOKEN": TOKEN}
    data = tmp_path / "data"
    key = create_key(data, env=env)
    with Server(data, env=env) as srv:
        load = Load(srv, key)
        load.start()
        wait_for(lambda: len(load.statuses) >= 10)  # the load runs
        private_pg.stop(stop)
        before = len(load.statuses)
        # the tailer meets the outage and retries, while the collector keeps taking events
        ready = wait_for(lambda: retrying(srv))
        wait_for(lambda: len(load.statuses) >= before + 20)
        during = load.statuses[before:]
        private_pg.start()
        wait_for(lambda: len(load.statuses) >= len(during) + before + 10)  # and after it
        load.stop.set()
        load.join(10)
        assert len(during) > 10 and set(during) == {200}, "the collector must keep answering 200"
        assert set(load.statuses) == {200}, load.errors
        assert ready["checks"]["tailer_realtime"]["state"] == "retrying"
        assert ready["status"] == "ready"
        got = wait_counts_match(srv)
        assert sum(got.values()) == 50 * len(load.statuses)
        metrics = srv.metrics()
        assert 'headwater_tailer_failures_total{tailer="realtime"}' in metrics


def wait_for(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"not true within {timeout} s"
        time.sleep(0.05)
    return value


def retrying(srv: Server) -> dict[str, Any] | None:
    ready: dict[str, Any] = srv.readyz().json()
    return ready if ready["checks"]["tailer_realtime"]["state"] == "retrying" else None


def test_kill9_mid_flush_then_counts_are_exact(tmp_path: Path, pg_url: str) -> None:
    env = {"HEADWATER_DATABASE_URL": pg_url, "HEADWATER_ADMIN_TOKEN": TOKEN}
    data = tmp_path / "data"
    key = create_key(data, env=env)
    for round_ in range(2):
        srv = Server(data, env=env).start()
        load = Load(srv, key)
        load.start()
        time.sleep(1.5 + round_ * 0.37)
        srv.kill9()
        load.stop.set()
        load.join(10)
        assert 200 in load.statuses
    with Server(data, env=env) as srv:
        wait_counts_match(srv)


def test_bad_or_unreachable_database_url_fails_clearly_with_the_password_masked(tmp_path: Path) -> None:
    for url in (
        f"postgresql://hw:s3cret@127.0.0.1:{free_port()}/nodb",
        "postgresql://hw:s3cret@no-such-host.invalid/nodb",
    ):
        env = {"HEADWATER_DATABASE_URL": url}
        for args in (["serve", "--port", str(free_port())], ["tail", "realtime"], ["db", "upgrade"]):
            out = cli(tmp_path / "data", *args, env=env, check=False)
            assert out.returncode == 2, (args, out.stderr)
            assert "cannot connect to PostgreSQL at postgresql://hw:****@" in out.stderr
            assert "s3cret" not in out.stderr + out.stdout


def test_odd_events_are_counted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"HEADWATER_ADMIN_TOKEN": TOKEN}
    key = create_key(data, env=env)
    events: list[dict[str, Any]] = [
        {"type": "track", "event": "A", "userId": "u1", "properties": {"tool_id": None}},
        {"type": "track", "event": "A", "userId": "u1"},
        {"type": "track", "event": "B", "userId": "u2", "properties": {"tool_id": "x", "blob": "z" * 20000}},
        {"type": "track", "event": "Old", "userId": "u3", "timestamp": "2009-03-01T12:00:00Z"},
    ]
    with Server(data, env=env) as srv:
        assert post(srv, key, events) == 200
        wait_counts_match(srv)
        old = httpx.get(srv.url + "/api/v1/realtime/daily?date=2009-03-01", headers=AUTH).json()
        assert old["events"] == 1 and old["unique_users"] == 1
        assert old["rows"] == [{"tool_id": None, "event_type": "Old", "count": 1}]
