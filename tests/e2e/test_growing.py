"""docs/growing.md, step by step, as a user follows it: embedded, then PostgreSQL, then Redis with
two workers, and back. At each step the old write key, experiment, audience, enrich key, sticky
assignments and counts all survive; clients never see a 401."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.audiences.harness import ADMIN, Harness, bid_request, order
from tests.helpers import Server, cli, create_key
from tests.redis_services import drop_namespace, shared_redis, unique_namespace

__all__ = ["shared_redis"]
USERS = [f"g{i}" for i in range(40)]
EXPERIMENT = {"key": "onboarding", "variations": ["a", "b"], "weights": [0.5, 0.5]}


@pytest.fixture
def redis_url(shared_redis: str) -> Iterator[str]:
    namespace = unique_namespace()
    url = f"{shared_redis}?namespace={namespace}"
    yield url
    drop_namespace(url, namespace)


def assign(url: str, key: str, users: list[str]) -> dict[str, tuple[str, bool]]:
    out = {}
    for user in users:
        deadline = time.monotonic() + 30
        while True:
            r = httpx.post(
                f"{url}/v1/assign", json={"userId": user}, headers={"X-Write-Key": key}, timeout=10
            )
            if r.status_code == 503 and time.monotonic() < deadline:  # the sticky buckets being restored
                assert (
                    r.json()["error"]["code"] == "assignments_restoring" and r.headers["retry-after"] == "1"
                )
                time.sleep(0.2)
                continue
            assert r.status_code == 200, r.text
            (a,) = r.json()["assignments"]
            out[user] = (a["key"], a["exposureLogged"])
            break
    return out


def snapshot(srv: Server, env: dict[str, str], data: Path) -> dict[str, Any]:
    day = datetime.now(UTC).date().isoformat()
    realtime = httpx.get(f"{srv.url}/api/v1/realtime/daily", params={"date": day}, headers=ADMIN).json()
    live = httpx.get(f"{srv.url}/api/v1/live/today", headers=ADMIN).json()
    return {
        "realtime": (realtime["events"], realtime["unique_users"]),
        "live": (live["events"], live["active_users"]),
        "experiments": [
            e["key"]
            for e in json.loads(cli(data, "experiments", "list", "--json", env=env).stdout)["experiments"]
        ],
        "audiences": sorted(
            ln.split()[0] for ln in cli(data, "audiences", "list", env=env).stdout.splitlines() if ln
        ),
    }


def wait_snapshot(srv: Server, env: dict[str, str], data: Path, want: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        found = snapshot(srv, env, data)
        if found == want or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def check_step(
    hw: Harness, srv: Server, env: dict[str, str], before: dict[str, Any], sticky: dict[str, str]
) -> None:
    """What must survive a step: the write key, counts, experiment, sticky assignments (and no
    second exposure), the audiences (the enrichment answers with them) and the enrich key."""
    hw.server = srv
    r = httpx.post(f"{srv.url}/v1/batch", json={"batch": []}, auth=(hw.write_key, ""), timeout=10)
    assert r.status_code == 200, r.text  # the old key: no 401
    assert wait_snapshot(srv, env, hw.data_dir, before) == before
    again = assign(srv.url, hw.write_key, USERS)
    assert {u: v for u, (v, _) in again.items()} == sticky
    assert not any(logged for _, logged in again.values())
    deadline = time.monotonic() + 30
    while (found := hw.segments("g1")) is None or "buyers" not in found["audiences"]:
        assert time.monotonic() < deadline, found
        time.sleep(0.2)
    enriched = hw.enrich(bid_request(buyeruid="exch-g1"))  # the enrich key, the id map, the audiences
    assert enriched.status_code == 200, enriched.text
    segments = json.dumps(enriched.json())
    assert "782" in segments, segments  # buyers' taxonomy id


def test_embedded_then_postgresql_then_redis_and_back(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    data = tmp_path / "data"
    hw = Harness(data).start()  # step 0: `make run`, embedded
    try:
        hw.send([order(u, 20 + i) for i, u in enumerate(USERS[:5])] + [order("g1", 30)])
        hw.send([{"type": "identify", "userId": "g1", "traits": {"buyeruid": "exch-g1"}}])
        created = httpx.post(f"{hw.url}/api/v1/experiments", json=EXPERIMENT, headers=ADMIN, timeout=10)
        assert created.status_code == 201, created.text
        httpx.post(f"{hw.url}/api/v1/experiments/onboarding/start", json={}, headers=ADMIN, timeout=10)
        first = assign(hw.url, hw.write_key, USERS)
        assert all(logged for _, logged in first.values())
        sticky = {u: v for u, (v, _) in first.items()}
        hw.wait_audiences("g1", {"buyers", "loyal", "internal"})
        # the weights change: a returning user must keep their variation through every step
        changed = {**EXPERIMENT, "status": "running", "weights": [0.9, 0.1]}
        r = httpx.put(f"{hw.url}/api/v1/experiments/onboarding", json=changed, headers=ADMIN, timeout=10)
        assert r.status_code == 200, r.text
        time.sleep(1.5)  # the live answers are at most a second old
        before = snapshot(hw.server, hw.env, data)
        assert before["experiments"] == ["onboarding"] and before["realtime"][0] == 7 + 40
        assert before["audiences"] == ["buyers", "internal", "loyal"]
    finally:
        hw.stop()

    # step 1: PostgreSQL (docs/growing.md): the control plane moves, the aggregates are rebuilt
    env1 = {**hw.env, "HEADWATER_DATABASE_URL": pg_url}
    with Server(data, env=env1) as srv:
        assert "control plane copied from the embedded store" in srv.stderr()
        assert "write key" in srv.stderr() and "verified" in srv.stderr()
        hw.env = env1
        check_step(hw, srv, env1, before, sticky)
        android = create_key(data, "android", env=env1)  # life goes on in PostgreSQL

    # step 2: Redis, two workers: the live counters, sticky buckets and audiences rebuilt from the log
    env2 = {**env1, "HEADWATER_REDIS_URL": redis_url}
    srv = Server(data, workers=2, env=env2).start(timeout=60)
    try:
        hw.env = env2
        check_step(hw, srv, env2, before, sticky)
        r = httpx.post(f"{srv.url}/v1/batch", json={"batch": []}, auth=(android, ""), timeout=10)
        assert r.status_code == 200
    finally:
        srv.stop()

    # and back: PostgreSQL -> the embedded store, which held the control plane of before the move
    embedded = f"sqlite:///{(data / 'realtime.sqlite3').resolve()}"
    refused = cli(data, "db", "copy", "--from", pg_url, "--to", embedded, env=hw.env, check=False)
    assert refused.returncode == 1 and "--replace" in refused.stderr
    back = cli(data, "db", "copy", "--from", pg_url, "--to", embedded, "--replace", env=hw.env)
    assert "copied" in back.stdout
    env0 = {k: v for k, v in env2.items() if k not in ("HEADWATER_DATABASE_URL", "HEADWATER_REDIS_URL")}
    with Server(data, env=env0) as srv:
        hw.env = env0
        check_step(hw, srv, env0, before, sticky)
        r = httpx.post(f"{srv.url}/v1/batch", json={"batch": []}, auth=(android, ""), timeout=10)
        assert r.status_code == 200  # the key made in PostgreSQL came back too
