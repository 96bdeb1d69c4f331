"""Suppression where logged events re-enter (issue 17): `headwater replay realtime` and the
sticky-bucket restore skip the events of people suppressed since they were logged (a
SUPPRESS_ONLY deletes nothing: their lines stay in the log)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from headwater.privacy.live_forget import OPTIONS
from tests.e2e.audiences.harness import Harness
from tests.helpers import cli
from tests.http.asgi import ADMIN, Running, run, running
from tests.privacy.test_suppression_paths import suppress


def realtime_rows(data: Path) -> str:
    """The per-person rows of the realtime store, as text."""
    db = sqlite3.connect(data / "realtime.sqlite3")
    try:
        rows: list[Any] = []
        for table in ("daily_users", "user_sessions", "identities"):
            rows += db.execute(f"SELECT * FROM {table}").fetchall()
        return repr(rows)
    finally:
        db.close()


def test_replay_skips_suppressed_people_and_says_how_many(tmp_path: Path) -> None:
    data = tmp_path / "data"

    async def scenario(hw: Running) -> None:
        def ev(**fields: Any) -> dict[str, Any]:
            return {"type": "track", "event": "Opened", "messageId": str(uuid.uuid4()), **fields}

        sent = [
            ev(userId="hidden-R"),
            ev(anonymousId="hidden-R"),
            {"type": "alias", "previousId": "hidden-R", "userId": "new-R"},  # theirs: by its previousId
            ev(userId="shown-R"),
        ]
        r = await hw.client.post("/v1/batch", json={"batch": sent}, headers={"X-Write-Key": hw.write_key})
        assert r.status_code == 200 and r.json()["accepted"] == len(sent), r.text
        await hw.until(lambda: all(i in realtime_rows(data) for i in ("hidden-R", "new-R", "shown-R")))
        await suppress(hw, "hidden-R")  # SUPPRESS_ONLY: their lines stay in the log

    run(tmp_path, scenario)
    done = cli(data, "replay", "realtime")
    assert "replayed 1 events" in done.stderr and "3 events of suppressed people skipped" in done.stderr, (
        done.stderr
    )
    rows = realtime_rows(data)
    assert "shown-R" in rows
    for theirs in ("hidden-R", "new-R"):
        assert theirs not in rows, rows


def test_sticky_restore_writes_no_bucket_for_a_suppressed_person(tmp_path: Path) -> None:
    data = tmp_path / "data"

    async def first() -> None:
        async with running(data) as hw:
            c = hw.client
            experiment = {"key": "checkout", "variations": ["control", "new"], "weights": [0.0, 1.0]}
            assert (await c.post("/api/v1/experiments", json=experiment, headers=ADMIN)).status_code == 201
            await c.post("/api/v1/experiments/checkout/start", json={}, headers=ADMIN)
            for user in ("hidden-S", "free-S"):  # exposed before the suppression
                served = await c.post(
                    "/v1/assign", json={"userId": user}, headers={"X-Write-Key": hw.write_key}
                )
                assert served.json()["assignments"][0]["exposureLogged"] is True, served.text
            await suppress(hw, "hidden-S")

    async def second() -> None:
        async with running(data) as hw:  # memory:// starts empty: restored from the log's exposures
            assert hw.runtime.experiments is not None
            restorer = hw.runtime.experiments.restorer
            await hw.until(lambda: restorer.restores >= 1, timeout=60)
            assert restorer.last["restored_documents"] == 1, restorer.last
            sticky = hw.runtime.live.backend.sticky_buckets(OPTIONS)  # type: ignore[union-attr]
            assert not sticky.get("id||hidden-S"), sticky.get("id||hidden-S")
            assert sticky.get("id||free-S"), sticky.get("id||free-S")

    asyncio.run(first())
    asyncio.run(second())


def test_live_and_audience_rebuilds_skip_suppressed_people(tmp_path: Path) -> None:
    """The live counters and the audiences rebuilt from the log (`headwater replay live|audiences`,
    or a deletion's request) count a person suppressed since as gone: their past lines stay in the
    log after a SUPPRESS_ONLY, and nobody reads them back into a count or a segment."""
    from headwater.audiences.tailer import AUDIENCES_TAILER
    from headwater.live.buckets import LIVE_TAILER
    from headwater.log.tailing.rebuild import request_rebuild

    async def scenario(hw: Running) -> None:
        c = hw.client
        audience = {"id": "openers", "name": "Openers", "rule": {"event": "Opened"}}
        assert (await c.post("/api/v1/audiences", json=audience, headers=ADMIN)).status_code == 201
        sent = [
            {"type": "track", "event": "Opened", "userId": user, "messageId": str(uuid.uuid4())}
            for user in ("hidden-L", "shown-L")
        ]
        r = await c.post("/v1/batch", json={"batch": sent}, headers={"X-Write-Key": hw.write_key})
        assert r.status_code == 200, r.text
        assert hw.runtime.live.backend is not None
        membership = hw.runtime.live.backend.membership(OPTIONS)

        async def state(users: int, members: set[str]) -> bool:
            r = await c.get("/api/v1/live/today", headers=ADMIN)
            counted = r.status_code == 200 and r.json()["active_users"] == users
            return counted and membership.audience_members("openers") == members

        await hw.until(lambda: state(2, {"hidden-L", "shown-L"}))
        await suppress(hw, "hidden-L")
        for tailer in (LIVE_TAILER, AUDIENCES_TAILER):
            request_rebuild(hw.settings.run_dir, tailer, None)
        await hw.until(lambda: state(1, {"shown-L"}), timeout=60)

    run(tmp_path, scenario)


def test_a_running_servers_replay_says_how_many_it_skipped(tmp_path: Path) -> None:
    """`headwater replay realtime` while a server runs the tailer: the server rebuilds, and the
    command says what it replayed, quarantined and skipped (not only the server's log)."""
    hw = Harness(tmp_path / "data").start()
    try:
        sent = [
            {"type": "track", "event": "Opened", "userId": "hidden-S"},
            {"type": "track", "event": "Opened", "anonymousId": "hidden-S"},
            {"type": "track", "event": "Opened", "userId": "shown-S"},
        ]
        hw.send(sent)
        deadline = time.monotonic() + 30
        while not all(i in realtime_rows(hw.data_dir) for i in ("hidden-S", "shown-S")):
            assert time.monotonic() < deadline, "the realtime store never had both"
            time.sleep(0.1)
        cli(hw.data_dir, "privacy", "suppress", "hidden-S", env=hw.env)
        done = cli(hw.data_dir, "replay", "realtime", env=hw.env, check=False)
        assert done.returncode == 0, done.stderr
        assert "the server (process" in done.stderr, done.stderr  # the online path
        said = "rebuilt by the server, replayed 1 events; 0 lines quarantined; 2 events of suppressed"
        assert said in done.stderr, done.stderr
        assert "hidden-S" not in realtime_rows(hw.data_dir) and "shown-S" in realtime_rows(hw.data_dir)
    finally:
        hw.stop()
