"""The live endpoints on a real `headwater serve`, on memory:// and on a private Redis, and their faults."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from headwater.live.service import CACHE_SECONDS
from tests.helpers import HEADWATER, Server, create_key
from tests.redis_services import RedisServer, unique_namespace, wait_until

TOKEN = "live-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def events(n: int, tool: str = "editor", start: int = 0) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "type": "track",
            "event": "Clicked",
            "userId": f"user-{i}",
            "timestamp": now.isoformat(),
            "properties": {"tool_id": tool},
        }
        for i in range(start, start + n)
    ]


def post(srv: Server, key: str, batch: list[dict[str, Any]]) -> int:
    r = httpx.post(f"{srv.url}/v1/batch", content=json.dumps({"batch": batch}), auth=(key, ""), timeout=10)
    return r.status_code


def get(srv: Server, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{srv.url}/api/v1/live/{path}", params=params, headers=AUTH, timeout=10)


def wait_events(srv: Server, n: int, timeout: float = 20) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def done() -> bool:
        r = get(srv, "today")
        if r.status_code == 200:
            seen.update(r.json())
        return r.status_code == 200 and r.json()["events"] == n

    try:
        wait_until(done, timeout)
    except TimeoutError:
        raise AssertionError(f"live counters never reached {n} events: {seen}") from None
    return seen


def log_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in (data / "log").glob("events-*.jsonl"))


def test_live_endpoints_on_the_embedded_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"HEADWATER_ADMIN_TOKEN": TOKEN}
    key = create_key(data, env=env)
    with Server(data, env=env) as srv:
        assert post(srv, key, events(30) + events(5, tool="viewer")) == 200
        today = wait_events(srv, 35)
        assert today["active_users"] == 30 and today["open_sessions"] == 30
        tools = {t["tool_id"]: (t["events"], t["unique_users"]) for t in today["tools"]}
        assert tools == {"editor": (30, 30), "viewer": (5, 5)}
        for window in ("5m", "1h", "24h"):
            body = get(srv, "active-users", window=window).json()
            assert body["active_users"] == 30 and body["window"] == window
        hour = get(srv, "hourly", hour=datetime.now(UTC).strftime("%Y-%m-%dT%H")).json()
        assert hour["events"] == 35 and hour["unique_users"] == 30
        assert {(r["tool_id"], r["event_type"], r["events"]) for r in hour["rows"]} == {
            ("editor", "Clicked", 30),
            ("viewer", "Clicked", 5),
        }
        # bad input and auth
        assert httpx.get(f"{srv.url}/api/v1/live/today", timeout=5).status_code == 401
        bad = get(srv, "active-users", window="7m")
        assert bad.status_code == 400 and "window" in bad.json()["error"]["message"]
        bad = get(srv, "hourly", hour="2026-11-25 10")
        assert bad.status_code == 400 and "YYYY-MM-DDTHH" in bad.json()["error"]["message"]
        empty = get(srv, "hourly", hour="2001-01-01T00")
        assert empty.json()["events"] == 0 and empty.json()["rows"] == []
        assert empty.headers["cache-control"] == "private, max-age=1"  # at most a second old


def test_redis_down_keeps_ingestion_and_answers_503_fast_then_catches_up(tmp_path: Path) -> None:
    redis_server = RedisServer(tmp_path / "redis").start()
    data = tmp_path / "data"
    env = {
        "HEADWATER_ADMIN_TOKEN": TOKEN,
        "HEADWATER_REDIS_URL": f"{redis_server.url}?namespace={unique_namespace()}",
    }
    key = create_key(data, env=env)
    try:
        with Server(data, env=env) as srv:
            assert post(srv, key, events(20)) == 200
            wait_events(srv, 20)
            redis_server.stop()
            before = log_bytes(data)
            for i in range(5):  # ingestion is not affected
                assert post(srv, key, events(10, start=100 + 10 * i)) == 200
            assert log_bytes(data) > before
            with httpx.Client(headers=AUTH, timeout=10) as client:
                for i in range(20):
                    if i == 10:
                        time.sleep(1.1)  # past the breaker: the store is tried (and fails) again
                    # the same round trip to /healthz tells how slow this (shared) machine is now
                    started = time.perf_counter()
                    client.get(f"{srv.url}/healthz")
                    baseline = time.perf_counter() - started
                    started = time.perf_counter()
                    r = client.get(f"{srv.url}/api/v1/live/active-users", params={"window": "1h"})
                    elapsed = time.perf_counter() - started
                    assert r.status_code == 503, r.text
                    assert elapsed - baseline < 0.1, f"503 took {elapsed * 1000:.0f} ms"
                    assert elapsed < 0.5, f"503 took {elapsed * 1000:.0f} ms"
            body = r.json()["error"]
            assert body["code"] == "live_store_unavailable"
            assert "unavailable" in body["message"] and "still collected" in body["message"]
            ready = httpx.get(f"{srv.url}/readyz", timeout=5)
            assert ready.status_code == 200  # the collector stays ready
            redis_server.start()  # back, and empty (no persistence): rebuilt from the log
            today = wait_events(srv, 70, timeout=30)
            assert today["active_users"] == 70
    finally:
        redis_server.stop()


def test_unreachable_redis_at_start_is_reported_with_the_password_masked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"HEADWATER_ADMIN_TOKEN": TOKEN, "HEADWATER_REDIS_URL": "redis://:s3cret@127.0.0.1:1/0"}
    key = create_key(data, env=env)
    with Server(data, env=env) as srv:
        assert post(srv, key, events(3)) == 200
        r = get(srv, "today")
        assert r.status_code == 503 and "s3cret" not in r.text and "****" in r.text
        assert "s3cret" not in srv.readyz().text and "****" in srv.readyz().text
        wait_until(lambda: "unavailable" in srv.stderr(), 10)
        assert "s3cret" not in srv.stderr()


def run_serve(data: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    full = {**os.environ, "HEADWATER_DATA_DIR": str(data), "HEADWATER_PORT": "0", **env}
    return subprocess.run([*HEADWATER, "serve"], env=full, capture_output=True, text=True, timeout=60)


def test_a_wrong_scheme_stops_the_server_with_a_clear_masked_error(tmp_path: Path) -> None:
    out = run_serve(tmp_path / "data", {"HEADWATER_REDIS_URL": "mongodb://admin:s3cret@db:27017"})
    assert out.returncode != 0
    assert "unsupported live store URL" in out.stderr and "redis://" in out.stderr
    assert "s3cret" not in out.stderr


def test_memory_store_refuses_several_workers(tmp_path: Path) -> None:
    out = run_serve(tmp_path / "data", {"HEADWATER_WORKERS": "2"})
    assert out.returncode != 0
    assert "configure Redis" in out.stderr and "HEADWATER_REDIS_URL" in out.stderr


@pytest.mark.slow
def test_several_workers_share_the_counters_through_redis(tmp_path: Path, shared_redis: str) -> None:
    data = tmp_path / "data"
    env = {
        "HEADWATER_ADMIN_TOKEN": TOKEN,
        "HEADWATER_REDIS_URL": f"{shared_redis}?namespace={unique_namespace()}",
    }
    key = create_key(data, env=env)
    with Server(data, workers=2, env=env) as srv:
        for i in range(6):
            assert post(srv, key, events(10, start=10 * i)) == 200
        wait_events(srv, 60)
        # every worker's cached answer is at most CACHE_SECONDS old: within a few of them, ten
        # requests in a row (to whichever worker answers) all say 60
        deadline = time.monotonic() + 10 * CACHE_SECONDS
        answers: set[int] = set()
        while time.monotonic() < deadline:
            answers = {get(srv, "today").json()["events"] for _ in range(10)}
            if answers == {60}:
                break
            time.sleep(0.05)
        assert answers == {60}
