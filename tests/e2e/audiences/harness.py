"""A real `headwater serve` set up for audiences: an enrich key, a provider, audiences, a write key."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import Server, cli, create_key

TOKEN = "audiences-test-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
PROVIDER = "headwater.example"

BUYERS = {
    "id": "buyers",
    "name": "Buyers",
    "taxonomy_id": "782",
    "sendable_to_buyers": True,
    "rule": {"event": "Order Completed", "where": [{"property": "total", "op": "gt", "value": 10}]},
}
LOYAL = {
    "id": "loyal",
    "name": "Loyal",
    "proprietary_id": "hw-loyal",
    "sendable_to_buyers": True,
    "rule": {
        "all": [
            {"event": "Order Completed", "min_count": 2, "within_days": 30},
            {"event": "Refund Requested", "not_within_days": 90},
        ]
    },
}
PRIVATE = {
    "id": "internal",
    "name": "Internal only",
    "sendable_to_buyers": False,
    "rule": {"event": "Order Completed"},
}


class Harness:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.env = {"HEADWATER_ADMIN_TOKEN": TOKEN, **(env or {})}
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.enrich_key = cli(
            data_dir, "audiences", "keys", "create", "exchange", env=self.env
        ).stdout.split()[-1]
        cli(data_dir, "audiences", "settings", "provider", PROVIDER, env=self.env)
        for audience in (BUYERS, LOYAL, PRIVATE):
            cli(data_dir, "audiences", "create", json.dumps(audience), env=self.env)
        self.server = Server(data_dir, env=self.env)

    def start(self) -> Harness:
        self.server.start()
        self.write_key = create_key(self.data_dir, "app", env=self.env)
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    def enrich(self, body: bytes | dict[str, Any], **headers: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"Authorization": f"Bearer {self.enrich_key}", "Content-Type": "application/json", **headers}
        return httpx.post(f"{self.url}/openrtb2/enrich", content=content, headers=sent, timeout=10)

    def send(self, batch: list[dict[str, Any]]) -> None:
        for event in batch:
            event.setdefault("timestamp", datetime.now(UTC).isoformat())
        r = httpx.post(f"{self.url}/v1/batch", json={"batch": batch}, auth=(self.write_key, ""), timeout=10)
        assert r.status_code == 200 and not r.json()["rejected"], r.text

    def segments(self, user: str) -> dict[str, Any] | None:
        r = httpx.get(f"{self.url}/v1/users/{user}/segments", headers=ADMIN, timeout=10)
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        return dict(r.json())

    def wait_audiences(self, user: str, expected: set[str], timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        found = None
        while time.monotonic() < deadline:
            found = self.segments(user)
            if found is not None and set(found["audiences"]) == expected:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{user}: audiences {found} never became {expected}")


def order(user: str, total: float, **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": user,
        "properties": {"total": total},
        **extra,
    }


def bid_request(**user: Any) -> dict[str, Any]:
    """A minimal valid request, GDPR not applicable, with these user fields."""
    request: dict[str, Any] = {
        "id": "req-1",
        "imp": [{"id": "1", "banner": {"w": 300, "h": 250}}],
        "site": {"page": "https://example.com/"},
        "regs": {"gdpr": 0},
    }
    if user:
        request["user"] = user
    return request
