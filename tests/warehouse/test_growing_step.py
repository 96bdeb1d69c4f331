"""docs/growing.md step 3, as a user follows it: a server that has collected events gets a
warehouse URL; every event of the log is then in BigQuery once, and unsetting the URL goes back."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from headwater.stores.warehouse import open_warehouse
from tests.helpers import Server, cli, create_key

TOKEN = "growing-step-3-token"


def test_step_3_bigquery(tmp_path: Path, warehouse_url: str) -> None:
    data_dir = tmp_path / "data"
    env = {"HEADWATER_ADMIN_TOKEN": TOKEN}
    with Server(data_dir, env=env) as srv:
        key = create_key(data_dir, "app")
        batch = [
            {"type": "track", "event": "Exported", "userId": f"u{i % 7}", "messageId": f"g{i}"}
            for i in range(40)
        ]
        batch.append({"type": "track", "event": "Exported", "userId": "u1", "messageId": "g1"})  # a retry
        r = httpx.post(f"{srv.url}/v1/batch", json={"batch": batch}, auth=(key, ""))
        assert r.status_code == 200
    # the step: set the URL, init, serve again
    env["HEADWATER_WAREHOUSE_URL"] = warehouse_url
    out = cli(data_dir, "warehouse", "init", env=env)
    assert "created" in out.stdout
    with Server(data_dir, env=env) as srv:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            check = srv.checks()["warehouse"]
            if check["state"] == "ok":
                break
            time.sleep(0.3)
        assert check["state"] == "ok"
        # the hour is still open: `sync --include-current` loads it now, while the server runs
        out = cli(data_dir, "warehouse", "sync", "--include-current", "--json", env=env)
        assert '"rows": 40' in out.stdout
        status = cli(data_dir, "warehouse", "status", "--json", env=env).stdout
        assert '"hours_due": 0' in status
    wh = open_warehouse(warehouse_url)
    try:
        n = wh.query(
            f"SELECT COUNT(*) AS n, COUNT(DISTINCT user_id) AS u FROM {wh.table('events_deduped')}"
        ).rows
        assert n == [{"n": 40, "u": 7}]
    finally:
        wh.close()
    # and back: without the URL the server runs as before, its data untouched
    del env["HEADWATER_WAREHOUSE_URL"]
    with Server(data_dir, env=env) as srv:
        assert "warehouse" not in srv.checks()
