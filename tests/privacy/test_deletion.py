"""A deletion reaches every store (issue 17): history in the log and the lake (received days the
ETL loaded), today's events through the collector, an identify linking a second device, an
experiment's sticky assignment and exposure; then SUPPRESS_WITH_DELETE by the device's
anonymousId. After it finishes no file under the data directory holds any of the person's ids
(Parquet read through DuckDB, the SQLite files as bytes), the live store forgot them, the
metrics of everyone else are unchanged, and the regulation keeps only keyed hashes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from headwater.batch.etl import run_daily
from headwater.privacy.live_forget import OPTIONS
from headwater.stores.sql.privacy import SqlPrivacy
from tests.batch.logdata import ev, write_log
from tests.http.asgi import ADMIN, Running, run
from tests.privacy.proof import ids_in_files, ids_in_postgres, ids_in_redis
from tests.redis_services import drop_namespace, shared_redis, unique_namespace

__all__ = ["shared_redis"]

PERSON = ["gone-user-7Q", "gone-device-7Q", "gone-phone-7Q"]
OTHER = ["kept-user-3K", "kept-device-3K"]


def history(data: Path) -> list[date]:
    """Three closed received days: the person (as a device, then identified) and the other."""
    today = datetime.now(UTC).date()
    events = []
    for back in (3, 2, 1):
        day = today - timedelta(days=back)
        stamp = f"{day:%Y-%m-%d}T10:00:00.000Z"
        later = f"{day:%Y-%m-%d}T11:00:00.000Z"
        events += [
            ev(stamp, anon=PERSON[1], event="Opened", tool="pdf"),
            ev(later, user=PERSON[0], anon=PERSON[1], type="identify", traits={"email": "gone@example.com"}),
            ev(later, user=PERSON[0], event="Exported", tool="pdf"),
            ev(stamp, user=OTHER[0], anon=OTHER[1], event="Opened", tool="pdf"),
            ev(later, user=OTHER[0], event="Exported", tool="pdf"),
        ]
    days = write_log(data, events)
    for day in days:
        run_daily(data, day, "UTC")
    return days


async def metric(hw: Running, name: str, start: date, end: date) -> list[dict[str, Any]]:
    r = await hw.client.get(
        f"/api/v1/metrics/{name}", params={"start": str(start), "end": str(end), "tz": "UTC"}, headers=ADMIN
    )
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["rows"]
    return rows


@pytest.fixture(params=["embedded", "servers"])
def stores(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The embedded stores (SQLite, memory://), or PostgreSQL and Redis."""
    if request.param == "embedded":
        yield {}
        return
    namespace = unique_namespace()
    redis_url = f"{request.getfixturevalue('shared_redis')}?namespace={namespace}"
    try:
        yield {
            "database_url": request.getfixturevalue("pg_url"),
            "redis_url": redis_url,
            "namespace": namespace,
        }
    finally:
        drop_namespace(redis_url, namespace)


def test_deletion_reaches_every_store(tmp_path: Path, stores: dict[str, str]) -> None:
    data = tmp_path / "data"
    days = history(data)
    settings = {k: v for k, v in stores.items() if k != "namespace"}

    async def scenario(hw: Running) -> None:
        c = hw.client
        key = {"X-Write-Key": hw.write_key}
        today = datetime.now(UTC).date()
        batch = [
            {"type": "track", "event": "Opened", "userId": PERSON[0], "messageId": str(uuid.uuid4())},
            {
                "type": "identify",
                "userId": PERSON[0],
                "anonymousId": PERSON[2],
                "messageId": str(uuid.uuid4()),
            },
            {"type": "track", "event": "Opened", "userId": OTHER[0], "messageId": str(uuid.uuid4())},
        ]
        assert (await c.post("/v1/batch", json={"batch": batch}, headers=key)).status_code == 200
        bad = {"batch": [{"type": "track", "userId": PERSON[0], "messageId": str(uuid.uuid4())}]}
        await c.post("/v1/batch", json=bad, headers=key)  # no 'event': quarantined with their id
        experiment = {"key": "onboarding", "variations": ["a", "b"], "weights": [0.5, 0.5]}
        assert (await c.post("/api/v1/experiments", json=experiment, headers=ADMIN)).status_code == 201
        await c.post("/api/v1/experiments/onboarding/start", json={}, headers=ADMIN)
        for user in (PERSON[0], OTHER[0]):
            r = await c.post("/v1/assign", json={"userId": user}, headers=key)
            assert r.status_code == 200, r.text
        privacy = SqlPrivacy(hw.runtime.database)
        await hw.until(lambda: set(PERSON) <= privacy.resolve({"userId": PERSON[0]}))

        async def realtime_today() -> dict[str, Any] | None:
            body: dict[str, Any] = (
                await c.get("/api/v1/realtime/daily", params={"date": str(today)}, headers=ADMIN)
            ).json()
            return body if body["unique_users"] == 2 else None

        await hw.until(realtime_today)

        async def live_users(n: int) -> bool:
            r = await c.get("/api/v1/live/today", headers=ADMIN)
            return bool(r.status_code == 200 and r.json()["active_users"] == n)

        await hw.until(lambda: live_users(2))
        dau_before = await metric(hw, "dau", days[0], days[-1])
        assert [r["value"] for r in dau_before] == [2, 2, 2], dau_before
        # cohorts: a static list naming both, a rule both meet, its members computed (a file)
        for cohort in (
            {"id": "listed", "members": [PERSON[0], OTHER[0]]},
            {"id": "opened", "rule": {"event": "Opened"}},
        ):
            assert (await c.post("/api/v1/cohorts", json=cohort, headers=ADMIN)).status_code == 201
        computed = (await c.post("/api/v1/cohorts/opened/compute", headers=ADMIN)).json()
        assert computed["members"] == 2, computed

        made = await c.post(
            "/api/v1/regulations",
            json={"type": "SUPPRESS_WITH_DELETE", "subject": {"anonymousId": PERSON[1]}},
            headers=ADMIN,
        )
        assert made.status_code == 201, made.text
        rid = made.json()["id"]

        async def finished() -> dict[str, Any] | None:
            shown: dict[str, Any] = (await c.get(f"/api/v1/regulations/{rid}", headers=ADMIN)).json()
            assert shown["status"] in ("INITIALIZED", "RUNNING", "FINISHED"), shown
            return shown if shown["status"] == "FINISHED" else None

        shown = await hw.until(finished, timeout=120)
        progress = shown["progress"]
        assert progress["log"]["lines_erased"] >= 3 * 3 + 3, progress  # history and today's
        assert progress["lake"]["rows_removed"] > 0 and progress["realtime"]["status"] == "FINISHED"
        assert progress["warehouse"]["status"] == "SKIPPED"
        assert shown["subject"] == {"anonymousId": "hmac:" + privacy.hashed(PERSON[1])}

        # the metrics of the other person are unchanged; the person's days are gone
        assert [r["value"] for r in await metric(hw, "dau", days[0], days[-1])] == [1, 1, 1]
        body = (await c.get("/api/v1/realtime/daily", params={"date": str(today)}, headers=ADMIN)).json()
        assert body["unique_users"] == 1, body
        await hw.until(lambda: live_users(1), timeout=60)  # the live counters, counted again
        # the live store forgot their assignment and kept the other's
        sticky = hw.runtime.live.backend.sticky_buckets(OPTIONS)  # type: ignore[union-attr]
        assert sticky.get(f"id||{PERSON[0]}") == {} and sticky.get(f"id||{OTHER[0]}") != {}
        # the static cohort lost their id, the rule's members are computed again without them
        listed = (await c.get("/api/v1/cohorts/listed", headers=ADMIN)).json()
        assert listed["size"] == 1, listed
        assert progress["realtime"]["rows"]["static_cohort_ids"] == 1, progress
        assert progress["lake"]["cohort_members_dropped"] == 1
        members = (await c.get("/api/v1/cohorts/opened/members", headers=ADMIN)).json()
        assert members["people"] == [OTHER[0]], members
        # no file of the data directory holds any of their ids; the other's are all there
        found = ids_in_files(hw.settings.data_dir, PERSON)
        assert found == {}, found
        if stores:  # every table of PostgreSQL, every key of the Redis namespace, read whole
            assert ids_in_postgres(stores["database_url"], PERSON) == {}
            assert ids_in_postgres(stores["database_url"], OTHER)
            assert ids_in_redis(stores["redis_url"], stores["namespace"], PERSON) == {}
            assert ids_in_redis(stores["redis_url"], stores["namespace"], [OTHER[0]])
        assert ids_in_files(hw.settings.data_dir, OTHER)
        # their events sent now are answered and not stored (suppressed)
        r = await c.post("/v1/track", json={"event": "Back", "userId": PERSON[0]}, headers=key)
        assert r.status_code == 200
        assert ids_in_files(hw.settings.data_dir / "log", PERSON) == {}
        # the tailers go on: a new event of the other person is counted
        before = body["events"]
        await c.post("/v1/track", json={"event": "Later", "userId": OTHER[0]}, headers=key)

        async def counted() -> bool:
            now = (await c.get("/api/v1/realtime/daily", params={"date": str(today)}, headers=ADMIN)).json()
            return bool(now["events"] == before + 1 and now["unique_users"] == 1)

        await hw.until(counted)
        audit = (hw.settings.data_dir / "audit" / "privacy.jsonl").read_text()
        assert rid in audit

    run(tmp_path, scenario, **settings)
