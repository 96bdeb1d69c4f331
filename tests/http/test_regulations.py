"""Suppression through the Regulations API (issue 17, first part): a suppressed person's events are
answered like any other and not stored, every id linked to them is covered, UNSUPPRESS lifts it,
and the records keep keyed hashes, never the ids."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from headwater.collector.suppression import REFRESH_SECONDS
from headwater.stores.sql.privacy import SqlPrivacy
from tests.helpers import read_log
from tests.http.asgi import ADMIN, Running, run


def track(user: str | None = None, anonymous: str | None = None) -> dict[str, Any]:
    ev: dict[str, Any] = {"type": "track", "event": "Opened", "messageId": str(uuid.uuid4())}
    if user:
        ev["userId"] = user
    if anonymous:
        ev["anonymousId"] = anonymous
    return ev


async def send(hw: Running, events: list[dict[str, Any]]) -> set[str]:
    r = await hw.client.post("/v1/batch", json={"batch": events}, headers={"X-Write-Key": hw.write_key})
    assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text
    return {e["messageId"] for e in events}


async def re_read(hw: Running, count: int) -> None:
    """Until this process's collector holds ``count`` suppressed ids (it re-reads them each
    ``REFRESH_SECONDS``; a loaded machine may take longer)."""
    suppression = hw.runtime.collector.ingestor.suppression
    assert suppression is not None
    await hw.until(lambda: len(suppression.hashes) == count, timeout=30 * REFRESH_SECONDS)


def stored(hw: Running, ids: set[str]) -> set[str]:
    return {e["messageId"] for e in read_log(hw.settings.data_dir)} & ids


def test_suppression_covers_every_linked_id_and_lifts(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        c = hw.client
        link = {
            "type": "identify",
            "userId": "person-Q1",
            "anonymousId": "device-Q1",
            "messageId": str(uuid.uuid4()),
        }
        await send(hw, [link])
        privacy = SqlPrivacy(hw.runtime.database)
        await hw.until(
            lambda: privacy.resolve({"userId": "person-Q1"}) == {"person-Q1", "device-Q1"}
        )  # the realtime link
        made = await c.post(
            "/api/v1/regulations",
            json={"type": "SUPPRESS_ONLY", "subject": {"anonymousId": "device-Q1"}},
            headers=ADMIN,
        )
        assert made.status_code == 201 and made.json()["status"] == "FINISHED", made.text
        rid = made.json()["id"]
        shown = (await c.get(f"/api/v1/regulations/{rid}", headers=ADMIN)).json()
        assert shown["progress"] == {"suppression": {"status": "FINISHED", "ids": 2}}
        assert shown["subject"]["anonymousId"].startswith("hmac:")
        await re_read(hw, 2)  # every process re-reads the list each second
        theirs = await send(
            hw, [track("person-Q1"), track(anonymous="device-Q1"), track("person-Q1", "device-Q9")]
        )
        others = await send(hw, [track("other-Q2"), track(anonymous="device-Q2")])
        await asyncio.sleep(0.2)
        assert stored(hw, theirs) == set() and stored(hw, others) == others
        # the records hold keyed hashes, never the ids
        db = sqlite3.connect(hw.settings.data_dir / "realtime.sqlite3")
        kept = repr(db.execute("SELECT * FROM suppressions").fetchall())
        kept += repr(db.execute("SELECT * FROM regulations").fetchall())
        assert "person-Q1" not in kept and "device-Q1" not in kept, kept
        # UNSUPPRESS by the other id lifts every id the suppression covered
        lifted = await c.post(
            "/api/v1/regulations",
            json={"type": "UNSUPPRESS", "subject": {"userId": "person-Q1"}},
            headers=ADMIN,
        )
        assert lifted.status_code == 201 and lifted.json()["status"] == "FINISHED"
        await re_read(hw, 0)
        back = await send(hw, [track("person-Q1"), track(anonymous="device-Q1")])
        await asyncio.sleep(0.2)
        assert stored(hw, back) == back
        entries = (await c.get("/api/v1/audit", headers=ADMIN)).json()["entries"]
        assert {e["target"] for e in entries if e["action"] == "POST /api/v1/regulations"} == {
            rid,
            lifted.json()["id"],
        }

    run(tmp_path, scenario)


def test_unsuppress_after_the_deletion_erased_the_links(tmp_path: Path) -> None:
    """A SUPPRESS_WITH_DELETE by a device's anonymousId erases the links to its userId; an
    UNSUPPRESS by the userId, resolved to nothing else now, still lifts the device (docs/privacy.md:
    every id resolved when the suppression was made)."""

    async def scenario(hw: Running) -> None:
        c = hw.client
        link = {"type": "identify", "userId": "un-U", "anonymousId": "un-D", "messageId": str(uuid.uuid4())}
        await send(hw, [link, track(anonymous="un-D")])
        privacy = SqlPrivacy(hw.runtime.database)
        await hw.until(lambda: privacy.resolve({"userId": "un-U"}) == {"un-U", "un-D"})
        made = await c.post(
            "/api/v1/regulations",
            json={"type": "SUPPRESS_WITH_DELETE", "subject": {"anonymousId": "un-D"}},
            headers=ADMIN,
        )
        assert made.status_code == 201, made.text
        rid = made.json()["id"]

        async def finished() -> Any:
            shown = (await c.get(f"/api/v1/regulations/{rid}", headers=ADMIN)).json()
            return shown if shown["status"] == "FINISHED" else None

        shown = await hw.until(finished, timeout=60)
        assert shown["progress"]["suppression"]["ids"] == 2, shown
        # the deletion erased the links: the userId alone names nobody else now
        assert privacy.resolve({"userId": "un-U"}) == {"un-U"}
        assert privacy.resolve({"anonymousId": "un-D"}) == {"un-D"}
        await re_read(hw, 2)
        held = await send(hw, [track("un-U"), track(anonymous="un-D")])
        await asyncio.sleep(0.2)
        assert stored(hw, held) == set()  # both still suppressed
        lifted = await c.post(
            "/api/v1/regulations", json={"type": "UNSUPPRESS", "subject": {"userId": "un-U"}}, headers=ADMIN
        )
        assert lifted.status_code == 201 and lifted.json()["status"] == "FINISHED", lifted.text
        lifted_shown = (await c.get(f"/api/v1/regulations/{lifted.json()['id']}", headers=ADMIN)).json()
        assert lifted_shown["progress"]["unsuppressed_ids"] == 2, lifted_shown
        await re_read(hw, 0)
        device = await send(hw, [track(anonymous="un-D")])
        user = await send(hw, [track("un-U")])
        await hw.until(lambda: stored(hw, device | user) == device | user)

    run(tmp_path, scenario)


def test_bad_requests_and_unknown_subjects(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        c = hw.client
        url = "/api/v1/regulations"
        for body, names in (  # each answer names the field that is wrong
            ({"type": "FORGET", "subject": {"userId": "x"}}, ["type"]),
            ({"subject": {"userId": "x"}}, ["type"]),
            ({"type": "SUPPRESS_ONLY", "subject": {}}, ["subject", "userId", "anonymousId"]),
            (
                {"type": "SUPPRESS_ONLY", "subject": {"userId": "x", "anonymousId": "y"}},
                ["subject", "userId", "anonymousId"],
            ),
            ({"type": "SUPPRESS_ONLY", "subject": {"email": "x"}}, ["subject", "email"]),
            ({"type": "SUPPRESS_ONLY"}, ["subject"]),
            ({"type": "SUPPRESS_ONLY", "subject": {"userId": ""}}, ["subject.userId"]),
            ({"type": "SUPPRESS_ONLY", "subject": {"anonymousId": 7}}, ["subject.anonymousId"]),
        ):
            r = await c.post(url, json=body, headers=ADMIN)
            assert r.status_code == 400, (body, r.text)
            message = r.json()["error"]["message"]
            assert all(name in message for name in names), (body, message)
        broken = await c.post(url, content=b"{", headers={**ADMIN, "Content-Type": "application/json"})
        assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json", broken.text
        unknown = await c.post(
            url, json={"type": "SUPPRESS_ONLY", "subject": {"userId": "nobody"}}, headers=ADMIN
        )
        assert unknown.status_code == 201 and unknown.json()["status"] == "FINISHED"  # not an error
        deletion = await c.post(url, json={"type": "DELETE_ONLY", "subject": {"userId": "u9"}}, headers=ADMIN)
        assert deletion.status_code == 201 and deletion.json()["status"] == "INITIALIZED"
        rid = deletion.json()["id"]

        async def finished() -> Any:
            shown = (await c.get(f"{url}/{rid}", headers=ADMIN)).json()
            return shown if shown["status"] == "FINISHED" else None

        shown = await hw.until(finished, timeout=60)  # an unknown subject: FINISHED, zero rows
        assert shown["progress"]["log"]["lines_erased"] == 0, shown
        assert shown["subject"] == {"userId": "hmac:" + SqlPrivacy(hw.runtime.database).hashed("u9")}
        assert (await c.get(f"{url}/reg_nothing", headers=ADMIN)).status_code == 404

    run(tmp_path, scenario)


def test_access_export_then_a_finished_deletion_keeps_no_subject(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        c = hw.client
        link = {"type": "identify", "userId": "ask-U", "anonymousId": "ask-D", "messageId": str(uuid.uuid4())}
        mine = await send(hw, [link, track("ask-U"), track(anonymous="ask-D")])
        await send(hw, [track("not-me")])
        privacy = SqlPrivacy(hw.runtime.database)
        await hw.until(lambda: privacy.resolve({"userId": "ask-U"}) == {"ask-U", "ask-D"})
        asked = await c.post(
            "/api/v1/regulations", json={"type": "ACCESS", "subject": {"anonymousId": "ask-D"}}, headers=ADMIN
        )
        assert asked.status_code == 201 and asked.json()["status"] == "FINISHED", asked.text
        rid = asked.json()["id"]
        exported = await c.get(f"/api/v1/regulations/{rid}/export", headers=ADMIN)
        assert exported.status_code == 200 and exported.headers["content-type"].startswith(
            "application/x-ndjson"
        )
        records = [json.loads(line) for line in exported.text.splitlines()]
        events = {r["event"]["messageId"] for r in records if r["kind"] == "event"}
        assert events == mine, records
        assert {r["row"]["source"] for r in records if r["kind"] == "identity"} == {"anon:ask-D"}
        assert (await c.get(f"/api/v1/regulations/{rid}/export")).status_code == 401
        assert (await c.get("/api/v1/regulations/reg_none/export", headers=ADMIN)).status_code == 404
        deleted = await c.post(
            "/api/v1/regulations",
            json={"type": "SUPPRESS_WITH_DELETE", "subject": {"userId": "ask-U"}},
            headers=ADMIN,
        )
        did = deleted.json()["id"]

        async def finished() -> Any:
            shown = (await c.get(f"/api/v1/regulations/{did}", headers=ADMIN)).json()
            return shown if shown["status"] == "FINISHED" else None

        await hw.until(finished, timeout=60)
        gone = await c.get(f"/api/v1/regulations/{did}/export", headers=ADMIN)
        assert gone.status_code == 410 and "ACCESS" in gone.json()["error"]["message"]
        # the access request keeps hashes now too: no record of the regulations holds their ids
        assert (await c.get(f"/api/v1/regulations/{rid}/export", headers=ADMIN)).status_code == 410
        db = sqlite3.connect(hw.settings.data_dir / "realtime.sqlite3")
        kept = repr(db.execute("SELECT * FROM regulations").fetchall())
        assert "ask-U" not in kept and "ask-D" not in kept, kept

    run(tmp_path, scenario)
