"""The dashboard tests' admin token, API calls with it, and where artifacts go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.dashboard.browser import ARTIFACTS
from tests.helpers import Server

TOKEN = "dashboard-test-token-3f9a7c1e5b"


def api_get(srv: Server, path: str, **params: Any) -> Any:
    resp = httpx.get(srv.url + path, params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
