"""`headwater privacy export` is an access request like the API's (issue 17): it files an ACCESS
regulation (origin cli) that the privacy status and the audit log show, never naming the person.
Beside a running server whose live store is ``memory://`` (inside the server's process), the
command cannot see experiment assignments or audiences: it says so on stderr, and the API export
of that same regulation has them. With Redis, the command reads them itself."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.batch.logdata import ev, write_log
from tests.helpers import cli
from tests.http.asgi import ADMIN, Running, run
from tests.privacy.proof import ids_in_files
from tests.redis_services import live_url, shared_redis

__all__ = ["live_url", "shared_redis"]

PERSON, DEVICE, OTHER = "access-user-4", "access-device-4", "access-other-4"


def test_cli_export_files_an_access_request(tmp_path: Path, live_url: str) -> None:
    data = tmp_path / "data"
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    stamp = f"{yesterday:%Y-%m-%d}T10:00:00.000Z"
    write_log(
        data,
        [
            ev(stamp, user=PERSON, anon=DEVICE, type="identify"),
            ev(stamp, user=PERSON, event="Opened", mid="access-mine-1"),
            ev(stamp, user=OTHER, event="Opened", mid="access-other-1"),
        ],
    )

    async def scenario(hw: Running) -> None:
        c = hw.client
        experiment = {"key": "access-exp", "variations": ["a", "b"], "weights": [0.5, 0.5]}
        assert (await c.post("/api/v1/experiments", json=experiment, headers=ADMIN)).status_code == 201
        await c.post("/api/v1/experiments/access-exp/start", json={}, headers=ADMIN)
        assigned = await c.post("/v1/assign", json={"userId": PERSON}, headers={"X-Write-Key": hw.write_key})
        assert assigned.status_code == 200, assigned.text

        out = await asyncio.to_thread(
            cli, data, "privacy", "export", "--anonymous", DEVICE, env={"HEADWATER_REDIS_URL": live_url}
        )
        records = [json.loads(line) for line in out.stdout.splitlines()]
        events = {r["event"]["messageId"] for r in records if r["kind"] == "event"}
        assert "access-mine-1" in events and "access-other-1" not in events, records
        theirs = [r["event"] for r in records if r["kind"] == "event"]  # history and the exposure
        assert len(theirs) == 3 and all(
            {e.get("userId"), e.get("anonymousId")} & {PERSON, DEVICE} for e in theirs
        )
        found = re.findall(r"access request (reg_\w+)", out.stderr)
        assert len(found) == 1, out.stderr
        rid = found[0]
        cli_live = [r for r in records if r["store"] == "live"]
        hint = [line for line in out.stderr.splitlines() if "memory://" in line]
        if live_url == "memory://":  # the CLI cannot see the server's process: it says where to look
            assert cli_live == [], cli_live
            assert len(hint) == 1 and f"GET /api/v1/regulations/{rid}/export" in hint[0], out.stderr
        else:  # a shared live store: the CLI reads the assignment itself, and says nothing
            assert hint == [], out.stderr
            assert {r["kind"] for r in cli_live} >= {"assignments"}, cli_live
            assert any("access-exp" in json.dumps(r["assignments"]) for r in cli_live), cli_live

        # filed like the API's: the privacy status shows it, origin cli, FINISHED
        shown = (await c.get(f"/api/v1/regulations/{rid}", headers=ADMIN)).json()
        assert (shown["type"], shown["status"], shown["origin"]) == ("ACCESS", "FINISHED", "cli"), shown
        listed = json.loads(cli(data, "privacy", "status", "--json").stdout)["regulations"]
        assert [(r["id"], r["type"]) for r in listed] == [(rid, "ACCESS")], listed
        # the audit log names the regulation, never the person
        entries = (await c.get("/api/v1/audit", headers=ADMIN)).json()["entries"]
        mine = [e for e in entries if e["target"] == rid]
        assert [(e["action"], e["actor"].startswith("cli:")) for e in mine] == [("regulation.access", True)]
        assert PERSON not in json.dumps(entries) and DEVICE not in json.dumps(entries), entries

        # the API export of the same regulation has what the CLI could not see
        exported = await c.get(f"/api/v1/regulations/{rid}/export", headers=ADMIN)
        assert exported.status_code == 200, exported.text
        api = [json.loads(line) for line in exported.text.splitlines()]
        assert {r["event"]["messageId"] for r in api if r["kind"] == "event"} == events
        api_live = [r for r in api if r["store"] == "live" and r["kind"] == "assignments"]
        assert any("access-exp" in json.dumps(r["assignments"]) for r in api_live), api

    run(tmp_path, scenario, redis_url=live_url)


def test_cli_export_of_a_bad_or_unknown_subject(tmp_path: Path) -> None:
    data = tmp_path / "data"
    empty = cli(data, "privacy", "export", "", check=False)
    assert empty.returncode == 2 and "SUBJECT is empty" in empty.stderr and "Traceback" not in empty.stderr
    assert "no privacy requests yet" in cli(data, "privacy", "status").stderr
    name = f"never-{uuid.uuid4()}"
    nobody: list[dict[str, Any]] = [
        json.loads(line) for line in cli(data, "privacy", "export", name).stdout.splitlines()
    ]
    assert nobody == []
    (entry,) = json.loads(cli(data, "privacy", "status", "--json").stdout)["regulations"]
    assert (entry["type"], entry["status"], entry["origin"]) == ("ACCESS", "FINISHED", "cli"), entry
    # nothing was found: the request keeps a keyed hash, not the id (it would be its only record)
    assert entry["subject"]["userId"].startswith("hmac:"), entry
    assert ids_in_files(data, [name]) == {}
