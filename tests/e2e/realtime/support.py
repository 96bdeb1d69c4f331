"""Helpers for end-to-end realtime tests against a real server."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.helpers import Server, read_log

TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def log_counts(data_dir: Path, tz: str = "UTC") -> Counter[tuple[str, str | None, str]]:
    """Count the log independently of the tailer: (local day, tool_id, event_type) -> events."""
    out: Counter[tuple[str, str | None, str]] = Counter()
    zone = ZoneInfo(tz)
    for ev in read_log(data_dir):
        day = datetime.fromisoformat(ev["timestamp"]).astimezone(zone).date().isoformat()
        out[(day, ev["_hw"].get("tool_id"), ev["_hw"]["event_type"])] += 1
    return out


def api_counts(srv: Server, days: set[str]) -> Counter[tuple[str, str | None, str]]:
    out: Counter[tuple[str, str | None, str]] = Counter()
    for day in days:
        body = httpx.get(f"{srv.url}/api/v1/realtime/daily", params={"date": day}, headers=AUTH).json()
        for row in body["rows"]:
            out[(day, row["tool_id"], row["event_type"])] += row["count"]
    return out


def wait_counts_match(
    srv: Server, timeout: float = 60, tz: str = "UTC"
) -> Counter[tuple[str, str | None, str]]:
    deadline = time.monotonic() + timeout
    expected: Counter[tuple[str, str | None, str]] = Counter()
    got: Counter[tuple[str, str | None, str]] = Counter()
    while time.monotonic() < deadline:
        expected = log_counts(srv.data_dir, tz)
        got = api_counts(srv, {k[0] for k in expected})
        if expected and got == expected:
            return got
        time.sleep(0.3)
    raise AssertionError(
        f"counts never matched the log: log={sum(expected.values())} api={sum(got.values())}"
    )


def post(srv: Server, key: str, events: list[dict[str, Any]]) -> int:
    r = httpx.post(f"{srv.url}/v1/batch", content=json.dumps({"batch": events}), auth=(key, ""), timeout=10)
    return r.status_code
