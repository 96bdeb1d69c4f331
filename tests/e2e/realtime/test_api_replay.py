"""API, CLI and replay: the same numbers whichever way they are produced."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.realtime.support import AUTH, TOKEN, post, wait_counts_match
from tests.helpers import Server, cli, create_key


def _traffic() -> list[list[dict[str, Any]]]:
    now = datetime.now(UTC).replace(microsecond=0)
    batches = []
    for b in range(12):
        batch = []
        for j in range(25):
            at = now - timedelta(hours=30) + timedelta(minutes=(b * 25 + j) * 7 % 1800)
            ev: dict[str, Any] = {
                "type": "track",
                "event": "Used",
                "timestamp": at.isoformat(),
                "properties": {"tool_id": f"t{j % 3}"},
            }
            if j % 4 == 0:
                ev["anonymousId"] = f"anon-{j % 6}"
            else:
                ev["userId"] = f"user-{(b + j) % 9}"
            if j % 10 == 5:
                ev.update(type="identify", userId=f"user-{j % 9}", anonymousId=f"anon-{j % 6}")
            batch.append(ev)
        batches.append(batch)
    return batches


def _snapshot(data: Path, env: dict[str, str], days: list[str]) -> dict[str, Any]:
    daily = {
        d: json.loads(cli(data, "realtime", "daily", "--date", d, "--json", env=env).stdout) for d in days
    }
    sessions = json.loads(cli(data, "realtime", "sessions", "--limit", "1000", "--json", env=env).stdout)
    return {"daily": daily, "sessions": sorted(sessions["sessions"], key=lambda s: s["session_id"])}


def test_api_cli_and_replay_agree(tmp_path: Path, pg_url: str) -> None:
    env = {
        "HEADWATER_DATABASE_URL": pg_url,
        "HEADWATER_ADMIN_TOKEN": TOKEN,
        "HEADWATER_TIMEZONE": "Europe/Paris",
    }
    data = tmp_path / "data"
    key = create_key(data, env=env)
    # two server processes on one data folder: two log writers, one elected realtime tailer
    with Server(data, env=env) as srv, Server(data, env={**env, "HEADWATER_WRITER_ID": "t2"}) as srv2:
        for i, batch in enumerate(_traffic()):
            assert post(srv if i % 2 else srv2, key, batch) == 200
        counts = wait_counts_match(srv, tz="Europe/Paris")
        assert len(counts) > 3
        days = sorted({k[0] for k in counts})
        api = {
            d: httpx.get(f"{srv.url}/api/v1/realtime/daily", params={"date": d}, headers=AUTH).json()
            for d in days
        }
        assert sum(v["events"] for v in api.values()) == 300
        assert httpx.get(f"{srv.url}/api/v1/realtime/daily", headers={}).status_code == 401
        bad = httpx.get(f"{srv.url}/api/v1/realtime/daily?date=yesterday", headers=AUTH)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_parameter"
        active = httpx.get(f"{srv.url}/api/v1/realtime/sessions?active=true", headers=AUTH).json()
        assert active["active"] is True and active["count"] >= 1
        assert srv.checks()["tailer_realtime"]["role"] in (
            "active",
            "standby",
        )
    live = _snapshot(data, env, days)
    assert live["daily"] == api
    assert sum(s["events_count"] for s in live["sessions"]) == 300

    out = cli(data, "replay", "realtime", env=env)
    assert "replayed 300 events" in out.stderr
    assert _snapshot(data, env, days) == live

    cli(data, "replay", "realtime", "--from", days[-1], env=env)
    assert _snapshot(data, env, days)["daily"] == live["daily"]
