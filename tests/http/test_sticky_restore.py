"""Assignments never move: after a restart (memory:// starts empty), a move from memory:// to Redis,
or a Redis that comes back empty, the sticky buckets are restored from the exposures in the log
before anyone is assigned afresh. The whole application in process, the weights changed in between."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.stores.sql.experiments import ExperimentCatalog
from tests.helpers import read_log
from tests.http.asgi import ADMIN, Running, running
from tests.redis_services import drop_namespace, shared_redis, unique_namespace

__all__ = ["shared_redis"]

USERS = [f"user-{i}" for i in range(200)]
EXPERIMENT = {"key": "onboarding", "variations": ["a", "b"], "weights": [0.5, 0.5]}


@pytest.fixture
def redis_url(shared_redis: str) -> Iterator[str]:
    namespace = unique_namespace()
    url = f"{shared_redis}?namespace={namespace}"
    yield url
    drop_namespace(url, namespace)


async def assign_all(hw: Running, users: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    slow = 0
    for user in users:
        while True:
            r = await hw.client.post(
                "/v1/assign", json={"userId": user}, headers={"X-Write-Key": hw.write_key}
            )
            if r.status_code == 503 and r.json()["error"]["code"] == "assignments_restoring":
                await asyncio.sleep(0.05)  # the restore is under way: nobody is assigned afresh
                continue
            if r.status_code == 503 and r.json()["error"]["code"] == "live_store_unavailable" and slow < 10:
                # a loaded machine's Redis past the read deadline: a 503 to retry, never a wrong answer
                slow += 1
                await asyncio.sleep(0.2)
                continue
            assert r.status_code == 200, r.text
            (assignment,) = r.json()["assignments"]
            out[user] = assignment
            break
    return out


def exposures(data: Path) -> int:
    return sum(1 for e in read_log(data) if e.get("event") == "Experiment Viewed")


def first_run(data: Path, **settings: Any) -> dict[str, str]:
    async def scenario() -> dict[str, str]:
        async with running(data, **settings) as hw:
            assert (
                await hw.client.post("/api/v1/experiments", json=EXPERIMENT, headers=ADMIN)
            ).status_code == 201
            await hw.client.post("/api/v1/experiments/onboarding/start", json={}, headers=ADMIN)
            served = await assign_all(hw, USERS)
            assert all(a["exposureLogged"] for a in served.values())
            return {u: a["key"] for u, a in served.items()}

    return asyncio.run(scenario())


def change_weights(data: Path) -> None:
    """The weights change within the phase: a returning user must keep their variation."""
    catalog = ExperimentCatalog(f"sqlite:///{(data / 'realtime.sqlite3').resolve()}")
    try:
        stored = catalog.get("onboarding")
        assert stored is not None
        catalog.update("onboarding", {**stored.definition, "weights": [0.9, 0.1]})
    finally:
        catalog.close()


def second_run(data: Path, before: dict[str, str], **settings: Any) -> None:
    async def scenario() -> None:
        async with running(data, **settings) as hw:
            served = await assign_all(hw, USERS)
            moved = {u for u, a in served.items() if a["key"] != before[u]}
            assert moved == set(), f"{len(moved)} of {len(USERS)} users moved"
            assert not any(a["exposureLogged"] for a in served.values())  # no second exposure
            ready = await hw.client.get("/readyz", headers=ADMIN)
            status = ready.json()["checks"]["experiments"]["sticky_restore"]
            assert status["restored_documents"] == len(USERS), status

    asyncio.run(scenario())
    assert exposures(data) == len(USERS)


def test_a_restart_after_a_weight_change_moves_nobody_memory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    before = first_run(data)
    assert set(before.values()) == {"0", "1"}
    change_weights(data)
    second_run(data, before)


def test_a_restart_after_a_weight_change_moves_nobody_redis(tmp_path: Path, redis_url: str) -> None:
    data = tmp_path / "data"
    before = first_run(data, redis_url=redis_url)
    change_weights(data)
    namespace = redis_url.rsplit("=", 1)[1]
    drop_namespace(redis_url, namespace)  # the Redis comes back empty
    second_run(data, before, redis_url=redis_url)


def test_moving_from_memory_to_redis_moves_nobody(tmp_path: Path, redis_url: str) -> None:
    data = tmp_path / "data"
    before = first_run(data)
    change_weights(data)
    second_run(data, before, redis_url=redis_url)


def test_a_redis_emptied_under_a_running_server_is_restored_before_anyone_moves(
    tmp_path: Path, redis_url: str
) -> None:
    data = tmp_path / "data"
    namespace = redis_url.rsplit("=", 1)[1]

    async def scenario() -> None:
        async with running(data, redis_url=redis_url) as hw:
            await hw.client.post("/api/v1/experiments", json=EXPERIMENT, headers=ADMIN)
            await hw.client.post("/api/v1/experiments/onboarding/start", json={}, headers=ADMIN)
            before = {u: a["key"] for u, a in (await assign_all(hw, USERS)).items()}
            await hw.client.put(
                "/api/v1/experiments/onboarding",
                json={**EXPERIMENT, "status": "running", "weights": [0.9, 0.1]},
                headers=ADMIN,
            )
            drop_namespace(redis_url, namespace)  # Redis restarted empty under the server
            r = await hw.client.post(
                "/v1/assign", json={"userId": USERS[0]}, headers={"X-Write-Key": hw.write_key}
            )
            assert r.status_code == 503 and r.headers["retry-after"] == "1"
            assert r.json()["error"]["code"] == "assignments_restoring"
            after = await assign_all(hw, USERS)
            assert {u for u, a in after.items() if a["key"] != before[u]} == set()
            assert not any(a["exposureLogged"] for a in after.values())

    asyncio.run(scenario())
