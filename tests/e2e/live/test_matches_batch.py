"""The live, realtime and batch numbers agree: a client's retries (the same messageId sent again)
count once everywhere, and an anonymous visitor who signs in is one person everywhere."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import Server, cli, create_key
from tests.redis_services import live_url, shared_redis

__all__ = ["live_url", "shared_redis"]
TOKEN = "live-batch-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def event(at: str, tool: str, **ids: str) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Used",
        "timestamp": at,
        "messageId": str(uuid.uuid4()),
        "properties": {"tool_id": tool},
        **ids,
    }


def traffic(at: str) -> tuple[list[list[dict[str, Any]]], int, int]:
    """Batches as clients send them (retries included), and the truth: events, people."""
    first: list[dict[str, Any]] = []
    for i in range(30):
        first += [event(at, f"t{j % 3}", userId=f"u{i}") for j in range(2 + i % 3)]
    for i in range(10):
        first += [event(at, "t0", anonymousId=f"a{i}") for _ in range(2)]
    signed_in = [
        {
            "type": "identify",
            "userId": f"u{i}",
            "anonymousId": f"a{i}",
            "timestamp": at,
            "messageId": str(uuid.uuid4()),
        }
        for i in range(5, 10)
    ]
    retried = first[::7] + signed_in[:2]  # the client timed out and sent these again
    batches = [first[: len(first) // 2], first[len(first) // 2 :], signed_in, retried, retried[:3]]
    people = 30 + 5  # u0..u29, and a0..a4 who never signed in
    return batches, len(first) + len(signed_in), people


def test_live_realtime_and_batch_agree(tmp_path: Path, live_url: str) -> None:
    data = tmp_path / "data"
    env = {"HEADWATER_ADMIN_TOKEN": TOKEN, "HEADWATER_REDIS_URL": live_url}
    key = create_key(data, env=env)
    now = datetime.now(UTC).replace(microsecond=0)
    day = now.date().isoformat()
    batches, events, people = traffic(now.isoformat())
    with Server(data, env=env) as srv:
        for batch in batches:
            r = httpx.post(f"{srv.url}/v1/batch", json={"batch": batch}, auth=(key, ""), timeout=10)
            assert r.status_code == 200 and r.json()["accepted"] == len(batch)
        deadline = time.monotonic() + 30
        while True:
            live = httpx.get(f"{srv.url}/api/v1/live/today", headers=ADMIN, timeout=10).json()
            realtime = httpx.get(
                f"{srv.url}/api/v1/realtime/daily", params={"date": day}, headers=ADMIN
            ).json()
            if (live.get("events"), realtime.get("events")) == (
                events,
                events,
            ) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        hour = httpx.get(
            f"{srv.url}/api/v1/live/hourly", params={"hour": f"{now:%Y-%m-%dT%H}"}, headers=ADMIN
        )
        window = httpx.get(f"{srv.url}/api/v1/live/active-users", params={"window": "1h"}, headers=ADMIN)
    batch = json.loads(cli(data, "metrics", "dau", "--start", day, "--end", day, "--json", env=env).stdout)
    assert batch["rows"][0]["value"] == people
    assert (realtime["events"], realtime["unique_users"]) == (events, people)
    assert (live["events"], live["active_users"], live["open_sessions"]) == (events, people, people)
    assert (hour.json()["events"], hour.json()["unique_users"]) == (events, people)
    assert window.json()["active_users"] == people
