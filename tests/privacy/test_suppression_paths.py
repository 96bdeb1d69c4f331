"""Suppression wherever events or answers re-enter (issue 17): `headwater import` skips a
suppressed person's events (counted), experiment assignment serves them the control with no
exposure and no sticky bucket, and audience serving gives their bid requests no segment."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from headwater.collector.suppression import REFRESH_SECONDS
from headwater.privacy.live_forget import OPTIONS
from headwater.privacy.requests import file_request
from headwater.stores.sql.audiences import AudienceCatalog
from headwater.stores.sql.database import open_database
from tests.helpers import cli, iter_lines, read_log
from tests.http.asgi import ADMIN, Running, run


async def suppress(hw: Running, user: str) -> None:
    r = await hw.client.post(
        "/api/v1/regulations", json={"type": "SUPPRESS_ONLY", "subject": {"userId": user}}, headers=ADMIN
    )
    assert r.status_code == 201, r.text
    suppression = hw.runtime.collector.ingestor.suppression
    assert suppression is not None
    await hw.until(lambda: suppression.is_suppressed(user), timeout=30 * REFRESH_SECONDS)


def test_import_skips_suppressed_people(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = open_database(f"sqlite:///{data / 'realtime.sqlite3'}") if data.mkdir() is None else None
    assert db is not None
    try:
        file_request(db, "SUPPRESS_ONLY", {"userId": "hidden-9"}, "test")
    finally:
        db.close()
    history = tmp_path / "history.ndjson"
    lines = [
        {"type": "track", "event": "Opened", "userId": user, "messageId": str(uuid.uuid4()),
         "timestamp": "2026-03-01T10:00:00Z"}
        for user in ("hidden-9", "shown-1", "hidden-9", "shown-2")
    ]  # fmt: skip
    history.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = cli(data, "import", str(history), "--no-etl", "--json")
    report = json.loads(out.stdout)
    assert report["totals"]["imported"] == 2 and report["totals"]["suppressed"] == 2, report
    assert {e.get("userId") for e in read_log(data)} == {"shown-1", "shown-2"}
    text = cli(data, "import", str(history), "--no-etl").stdout
    assert "already imported" in text


def test_assignment_and_audiences_skip_suppressed_people(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        c = hw.client
        key = {"X-Write-Key": hw.write_key}
        experiment = {"key": "checkout", "variations": ["control", "new"], "weights": [0.0, 1.0]}
        assert (await c.post("/api/v1/experiments", json=experiment, headers=ADMIN)).status_code == 201
        await c.post("/api/v1/experiments/checkout/start", json={}, headers=ADMIN)
        audience = {
            "id": "buyers",
            "name": "Buyers",
            "taxonomy_id": "782",
            "sendable_to_buyers": True,
            "rule": {"event": "Order Completed"},
        }
        assert (await c.post("/api/v1/audiences", json=audience, headers=ADMIN)).status_code == 201
        batch = [
            {"type": "identify", "userId": "buyer-S", "traits": {"advertisingId": "ifa-S"}},
            {"type": "track", "event": "Order Completed", "userId": "buyer-S"},
        ]
        assert (await c.post("/v1/batch", json={"batch": batch}, headers=key)).status_code == 200

        async def member() -> Any:
            r = await c.get("/v1/users/ifa-S/segments", headers=ADMIN)
            return r.status_code == 200 and r.json()["audiences"] == ["buyers"]

        await hw.until(member)
        catalog = AudienceCatalog(hw.settings.effective_database_url)
        try:
            enrich_key = catalog.create_key("exchange").key
        finally:
            catalog.close()
        request = {
            "id": "req-1",
            "imp": [{"id": "1", "banner": {"w": 300, "h": 250}}],
            "site": {"page": "https://example.com/"},
            "regs": {"gdpr": 0},
            "device": {"ifa": "ifa-S"},
        }
        bearer = {"Authorization": f"Bearer {enrich_key}"}

        async def outcome() -> str:
            r = await c.post("/openrtb2/enrich", json=request, headers=bearer)
            return str(r.headers.get("x-headwater-enrichment"))

        await hw.until(lambda: _eq(outcome(), "enriched"))  # before: their segment is served
        await suppress(hw, "buyer-S")
        r = await c.post("/openrtb2/enrich", json=request, headers=bearer)
        assert r.headers["x-headwater-enrichment"] == "unknown_user", r.headers
        assert "data" not in r.json().get("user", {}), r.json()

        served = await c.post("/v1/assign", json={"userId": "buyer-S"}, headers=key)
        assert served.status_code == 200, served.text
        (assignment,) = served.json()["assignments"]
        assert assignment["key"] == "0" and assignment["value"] == "control"
        assert assignment["inExperiment"] is False
        assert assignment["exposureLogged"] is False
        other = (await c.post("/v1/assign", json={"userId": "free-T"}, headers=key)).json()["assignments"][0]
        assert other["value"] == "new" and other["exposureLogged"] is True
        exposed = {
            e.get("userId") for e in read_log(hw.settings.data_dir) if e.get("event") == "Experiment Viewed"
        }
        assert exposed == {"free-T"}
        sticky = hw.runtime.live.backend.sticky_buckets(OPTIONS)  # type: ignore[union-attr]
        assert sticky.get("id||buyer-S") == {} and sticky.get("id||free-T") != {}

    run(tmp_path, scenario)


async def _eq(value: Any, expected: str) -> bool:
    return bool(await value == expected)


def test_import_keeps_no_line_of_a_suppressed_person_in_the_quarantine(tmp_path: Path) -> None:
    """Their invalid lines and an alias from one of their ids are skipped (counted), not quarantined
    nor stored; another person's invalid line is quarantined as always."""
    data = tmp_path / "data"
    data.mkdir()
    db = open_database(f"sqlite:///{data / 'realtime.sqlite3'}")
    try:
        file_request(db, "SUPPRESS_ONLY", {"userId": "hidden-7"}, "test")
    finally:
        db.close()
    at = "2026-03-01T10:00:00Z"
    lines = [
        {"type": "track", "userId": "hidden-7", "timestamp": at},  # no event name
        {"type": "track", "event": "Opened", "userId": "hidden-7"},  # no time at all
        {"type": "alias", "previousId": "hidden-7", "userId": "new-7", "timestamp": at},
        {"type": "identify", "anonymousId": "hidden-7", "traits": "not an object", "timestamp": at},
        {"type": "track", "userId": "shown-7", "timestamp": at},  # another person's: quarantined
        {"type": "alias", "previousId": "old-7", "userId": "shown-7", "timestamp": at},
    ]
    history = tmp_path / "history.ndjson"
    history.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = json.loads(cli(data, "import", str(history), "--no-etl", "--json").stdout)
    totals = report["totals"]
    assert (totals["imported"], totals["rejected"], totals["suppressed"]) == (1, 1, 4), report
    stored = [line for kind in ("events", "quarantine") for line in iter_lines(data, kind)]
    assert not any(b"hidden-7" in line or b"new-7" in line for line in stored), stored
    (quarantined,) = read_log(data, "quarantine")
    assert quarantined["event"]["userId"] == "shown-7"
    assert [e["previousId"] for e in read_log(data)] == ["old-7"]

    table = tmp_path / "history.csv"  # a CSV row that cannot be mapped holds their id in a cell
    table.write_text("type,event,userId,timestamp\ntrack,Opened,hidden-7,not-a-time\ntrack,Opened,x-7,no\n")
    report = json.loads(cli(data, "import", str(table), "--no-etl", "--json").stdout)
    assert report["totals"]["suppressed"] == 1 and report["totals"]["rejected"] == 1, report
    assert not any(b"hidden-7" in line for line in iter_lines(data, "quarantine"))
