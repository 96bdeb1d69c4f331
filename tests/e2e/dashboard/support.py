"""The dashboard tests' admin token, API calls with it, and where artifacts go."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.dashboard.browser import ARTIFACTS
from tests.helpers import Server

TOKEN = "dashboard-test-token-3f9a7c1e5b"


def api_get(srv: Server, path: str, **params: Any) -> Any:
    resp = httpx.get(srv.url + path, params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def wait_started(srv: Server, timeout: float = 120.0) -> dict[str, Any]:
    """Wait until the server's start-up work is done: every tailer caught up with the log, and the
    dashboard's default view computed once (its warm-up service). Returns /readyz's checks."""
    deadline = time.monotonic() + timeout
    while True:
        checks = srv.checks()
        tailers = [v for v in checks.values() if isinstance(v, dict) and "lag_events" in v]
        warm = checks.get("dashboard_warmup") or {}
        if all(t.get("state") == "caught_up" for t in tailers) and warm.get("runs", 0) >= 1:
            return checks
        assert time.monotonic() < deadline, checks
        time.sleep(0.2)


def session_cookie(base_url: str, token: str = TOKEN) -> dict[str, str]:
    """A dashboard session made by posting the sign-in form (no page load, so nothing warms), as a
    browser context's cookie."""
    import httpx

    answer = httpx.post(base_url + "/dashboard/login", data={"token": token}, follow_redirects=False)
    assert answer.status_code == 303, answer.text[:300]
    value = answer.cookies["headwater_session"]
    return {"name": "headwater_session", "value": value, "url": base_url}
