"""docs/growing.md step 4, as a user follows it: Segment as a source. The guide's commands as printed
(a secret made with openssl, a source with a webhook), Segment's deliveries signed in Node as
Segment's code signs them, posted to a real server; the events reach the live and realtime counters
and, after the ETL, the metrics; the old write key keeps working; a retry counts once; going back
stops the webhook and keeps what was received."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import Server, cli, create_key
from tests.segment_signer import segment_sign

TOKEN = "growing-segment-admin-token-0123"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def delivery(user: str, at: datetime) -> dict[str, Any]:
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "type": "track",
        "event": "Song Played",
        "userId": user,
        "messageId": str(uuid.uuid4()),
        "timestamp": stamp,
        "receivedAt": stamp,
        "sentAt": stamp,
        "context": {"library": {"name": "analytics-ios"}},
    }


def until(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, value
        time.sleep(0.3)
    return value


def test_segment_as_a_source_as_the_guide_says(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"HEADWATER_ADMIN_TOKEN": TOKEN}
    old_key = create_key(data, "ios", env=env)  # what the user had before this step
    secret = tmp_path / "segment-secret"
    made = subprocess.run(f"openssl rand -hex 24 > {secret}", shell=True, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr  # the guide's command, as printed
    out = cli(data, "keys", "create", "segment-web", "--webhook-secret-file", str(secret), env=env)
    assert "/v1/webhooks/segment/segment-web" in out.stderr
    listed = json.loads(cli(data, "keys", "list", "--json", env=env).stdout)["keys"]
    assert [k["name"] for k in listed if k["webhook"]] == ["segment-web"]
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1)
    batch = [delivery(f"s{i}", now) for i in range(5)] + [delivery("s9", yesterday)]
    with Server(data, env=env) as srv:
        url = f"{srv.url}/v1/webhooks/segment/segment-web"
        body, signature = segment_sign("batch", json.dumps(batch), secret=secret.read_text().strip())
        headers = {
            "X-Signature": signature,
            "Content-Type": "application/json",
            "User-Agent": "Segment (Actions)",
        }
        answer = httpx.post(url, content=body, headers=headers, timeout=10)
        assert answer.status_code == 200 and answer.json()["accepted"] == 6, answer.text
        retried = httpx.post(url, content=body, headers=headers, timeout=10)  # Segment retries
        assert retried.status_code == 200
        assert httpx.post(url, content=body, timeout=10).status_code == 401  # unsigned: nothing stored
        sdk = httpx.post(
            f"{srv.url}/v1/track", json={"event": "Opened", "userId": "s0"}, auth=(old_key, ""), timeout=10
        )
        assert sdk.status_code == 200  # the apps' own SDK traffic goes on beside it

        def live() -> Any:
            today = httpx.get(f"{srv.url}/api/v1/live/today", headers=ADMIN, timeout=10).json()
            return today if today["events"] == 6 else None

        today = until(live)  # five of Segment's (once, despite the retry) and the SDK's
        assert today["active_users"] == 5
        # going back: the webhook stops, what was received stays
        cli(data, "keys", "webhook", "segment-web", "--remove", env=env)
        time.sleep(1.2)  # the sources are re-read every second
        assert httpx.post(url, content=body, headers=headers, timeout=10).status_code == 404
    # the ETL loads by day received: today's load puts Segment's late event into yesterday
    cli(data, "etl", "daily", "--date", now.date().isoformat(), env=env)
    dau = json.loads(
        cli(
            data,
            "metrics",
            "dau",
            "--start",
            yesterday.date().isoformat(),
            "--end",
            now.date().isoformat(),
            "--json",
            env=env,
        ).stdout
    )
    values = [row["value"] for row in dau["rows"]]
    assert values == [1, 5], dau
