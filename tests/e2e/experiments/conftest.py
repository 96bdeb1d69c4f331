"""A real `headwater serve` per test module, with an admin token, and small HTTP helpers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import Server, create_key, read_log
from tests.redis_services import private_redis

TOKEN = "experiments-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}

__all__ = ["private_redis"]


class Api:
    """The server plus its write key: admin calls and assignment calls."""

    def __init__(self, server: Server, write_key: str) -> None:
        self.server = server
        self.write_key = write_key
        self.http = httpx.Client(base_url=server.url, timeout=10)

    def close(self) -> None:
        self.http.close()

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**ADMIN, **kwargs.pop("headers", {})}
        return self.http.request(method, "/api/v1/experiments" + path, headers=headers, **kwargs)

    def create(self, definition: dict[str, Any]) -> dict[str, Any]:
        r = self.admin("POST", "", json=definition)
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    def assign(self, key: str, **params: str) -> httpx.Response:
        return self.http.get(
            f"/v1/experiments/{key}/assignment", params=params, headers={"X-Write-Key": self.write_key}
        )

    def variation(self, key: str, user: str) -> str | None:
        r = self.assign(key, userId=user)
        assert r.status_code == 200, r.text
        body = r.json()
        return str(body["key"]) if body["inExperiment"] else None


def exposures(data_dir: Path, key: str) -> Counter[tuple[str, str, str]]:
    """(user, phase, variation) -> how many `Experiment Viewed` events the log holds."""
    out: Counter[tuple[str, str, str]] = Counter()
    for ev in read_log(data_dir):
        props = ev.get("properties") or {}
        if ev.get("event") == "Experiment Viewed" and props.get("experiment_id") == key:
            user = ev.get("userId") or ev.get("anonymousId")
            out[(user, props["experiment_phase"], props["variation_id"])] += 1
    return out


def start_server(data_dir: Path, env: dict[str, str] | None = None) -> Server:
    return Server(data_dir, env={"HEADWATER_ADMIN_TOKEN": TOKEN, **(env or {})}).start()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data = tmp_path_factory.mktemp("exp") / "data"
    server = start_server(data)
    api = Api(server, create_key(data, "exp-source"))
    try:
        yield api
    finally:
        api.close()
        server.stop()
