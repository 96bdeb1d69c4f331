"""Redis as the live store: enrichment through a real Redis, then Redis paused (slow) and stopped
(down): the request comes back unchanged, 200, within the time budget (fail open)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx

from tests.e2e.audiences.harness import Harness, bid_request, order
from tests.redis_services import RedisServer, private_redis, unique_namespace

__all__ = ["private_redis"]

BUDGET = 0.25  # seconds for the whole HTTP exchange, client included (the server's budget is 3 ms)


def timed(hw: Harness, body: bytes) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    r = hw.enrich(body)
    return r, time.perf_counter() - started


def test_slow_or_down_redis_returns_the_request_unchanged(private_redis: RedisServer, tmp_path: Path) -> None:
    url = f"{private_redis.url}?namespace={unique_namespace()}"
    hw = Harness(tmp_path / "data", env={"HEADWATER_REDIS_URL": url}).start()
    try:
        hw.send(
            [order("u-redis", 50, context={"device": {"advertisingId": "ifa-redis"}}), order("u-redis", 70)]
        )
        hw.wait_audiences("u-redis", {"buyers", "loyal", "internal"})
        body = json.dumps(bid_request(buyeruid="not-ours")).encode()
        body = json.dumps({**json.loads(body), "device": {"ifa": "ifa-redis"}}).encode()
        # the first lookups open the enrichment's connection, which on a loaded machine can exceed
        # the 100 ms budget: those answer lookup_timeout (fail open, the contract); then enriched
        deadline = time.monotonic() + 10
        while (r := timed(hw, body)[0]).headers["x-headwater-enrichment"] != "enriched":
            assert r.headers["x-headwater-enrichment"] == "lookup_timeout" and r.content == body, r.headers
            assert time.monotonic() < deadline, "no lookup answered within its budget on a healthy Redis"
            time.sleep(0.05)

        assert private_redis.proc is not None
        os.kill(private_redis.proc.pid, signal.SIGSTOP)  # slow: connected, never answers
        try:
            for _ in range(5):
                r, elapsed = timed(hw, body)
                assert r.status_code == 200 and r.content == body
                assert r.headers["x-headwater-enrichment"] == "lookup_timeout"
                assert elapsed < BUDGET, elapsed
        finally:
            os.kill(private_redis.proc.pid, signal.SIGCONT)

        deadline = time.monotonic() + 10
        while timed(hw, body)[0].headers["x-headwater-enrichment"] != "enriched":
            assert time.monotonic() < deadline, "enrichment did not come back after Redis resumed"
            time.sleep(0.05)

        private_redis.stop()  # down: connection refused
        for _ in range(5):
            r, elapsed = timed(hw, body)
            assert r.status_code == 200 and r.content == body
            assert r.headers["x-headwater-enrichment"] in ("lookup_error", "lookup_timeout")
            assert elapsed < BUDGET, elapsed
        hw.send([order("u-redis", 80)])  # collection goes on while the live store is down
    finally:
        hw.stop()
