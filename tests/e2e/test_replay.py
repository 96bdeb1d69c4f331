"""`headwater replay realtime|live|audiences|all`: every derived store rebuilt from the log to the
same numbers, by the running server when there is one (collection goes on), else by the command."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from headwater.stores.live import open_live
from headwater.stores.live.ports import StoreOptions
from tests.e2e.audiences.harness import ADMIN, Harness, order
from tests.helpers import cli
from tests.redis_services import drop_namespace, shared_redis, unique_namespace

__all__ = ["shared_redis"]

USERS = [f"g{i}" for i in range(6)]


@pytest.fixture
def redis_url(shared_redis: str) -> Iterator[str]:
    namespace = unique_namespace()
    url = f"{shared_redis}?namespace={namespace}"
    yield url
    drop_namespace(url, namespace)


def traffic() -> list[dict[str, Any]]:
    batch: list[dict[str, Any]] = []
    for i, user in enumerate(USERS):
        batch.append(order(user, 5 + 10 * i, properties={"total": 5 + 10 * i, "tool_id": "shop"}))
        batch.append(
            {"type": "track", "event": "Opened", "anonymousId": f"a{i}", "properties": {"tool_id": "app"}}
        )
        batch.append({"type": "page", "userId": user, "properties": {"tool_id": "web"}})
    return batch


def snapshot(hw: Harness) -> dict[str, Any]:
    today = datetime.now(UTC).date().isoformat()
    env = hw.env
    daily = json.loads(cli(hw.data_dir, "realtime", "daily", "--date", today, "--json", env=env).stdout)
    live = json.loads(cli(hw.data_dir, "live", "today", env=env).stdout)
    hour = json.loads(cli(hw.data_dir, "live", "hourly", env=env).stdout)
    return {"daily": daily, "live": live, "hourly": hour}


def memberships(url: str) -> dict[str, set[str]]:
    store = open_live(url).membership(StoreOptions())
    try:
        return store.memberships(USERS)
    finally:
        store.close()


def wait_caught_up(hw: Harness, events: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        checks = hw.server.checks()
        tailers = [checks.get(n, {}) for n in ("tailer_realtime", "live", "audiences")]
        if all(t.get("state") == "caught_up" for t in tailers) and snapshot(hw)["live"]["events"] == events:
            return
        time.sleep(0.1)
    raise AssertionError(f"tailers never caught up: {tailers}")


def test_every_store_is_rebuilt_online_and_offline_to_the_same_numbers(
    tmp_path: Path, redis_url: str
) -> None:
    hw = Harness(tmp_path / "data", env={"HEADWATER_REDIS_URL": redis_url}).start()
    try:
        sent = traffic()
        hw.send(sent)
        wait_caught_up(hw, len(sent))
        before, members = snapshot(hw), memberships(redis_url)
        assert before["daily"]["events"] == len(sent) and before["live"]["active_users"] == 12
        assert members["g1"] == {"buyers", "internal"} and members["g0"] == {"internal"}
        # online: the server rebuilds each store itself, and the command follows it to the end
        for name in ("live", "audiences", "realtime"):
            done = cli(hw.data_dir, "replay", name, env=hw.env, check=False)
            assert done.returncode == 0, done.stderr
            assert "the server (process" in done.stderr and f"{name}: rebuilt by the server" in done.stderr
            assert snapshot(hw) == before and memberships(redis_url) == members, name
        hw.send([order("g9", 99)])  # collection went on all along
        wait_caught_up(hw, len(sent) + 1)
        segments = httpx.get(f"{hw.url}/v1/users/g9/segments", headers=ADMIN, timeout=10).json()
        assert "buyers" in segments["audiences"]
        before, members = snapshot(hw), memberships(redis_url)
    finally:
        hw.stop()
    # offline: the command rebuilds, with a progress bar, and says what it replayed
    done = cli(hw.data_dir, "replay", "all", env=hw.env, check=False)
    assert done.returncode == 0, done.stderr
    for name in ("realtime", "live", "audiences"):
        assert f"{name}: replayed {len(sent) + 1} events" in done.stderr, done.stderr
    assert "100.0%" in done.stderr and "Traceback" not in done.stderr
    assert memberships(redis_url) == members
    after = snapshot(hw)
    assert after["daily"] == before["daily"] and after["hourly"] == before["hourly"]
    assert after["live"]["events"] == before["live"]["events"]
    assert after["live"]["tools"] == before["live"]["tools"]


def test_replay_bad_input_says_what_to_do(tmp_path: Path) -> None:
    data = tmp_path / "data"
    embedded = cli(data, "replay", "live", check=False)  # memory://: lives in the server process
    assert embedded.returncode == 0 and "memory://" in embedded.stderr and "nothing to do" in embedded.stderr
    wrong = cli(data, "replay", "live", "--from", "2026-01-01", check=False)
    assert wrong.returncode == 2 and "--from" in wrong.stderr
    bad_day = cli(data, "replay", "realtime", "--from", "yesterday", check=False)
    assert bad_day.returncode == 2 and "'yesterday' is not a date" in bad_day.stderr
    unknown = cli(data, "replay", "everything", check=False)
    assert unknown.returncode == 2 and "everything" in unknown.stderr
    for sub in ("realtime", "live", "audiences", "all"):
        helped = cli(data, "replay", sub, "--help")
        assert "Rebuild" in helped.stdout
