"""The people routes on a running in-process server (real SQLite realtime store, in-process live
store, a lake built by the ETL and today's log collected through the API): a profile that merges
an anonymous visitor with the user they became (from the lake, and from today's identify in the
realtime store), traits' latest values, first and last seen in UTC, sessions, an experiment
assignment and an audience; the timeline across lake and log without duplicates; a search by id
and by trait; the latest events, filtered; an erased line skipped; an id with quotes and unicode;
a person that does not exist; an empty install."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from headwater.batch.etl import run_daily
from headwater.log.erase import erase_from_log
from tests.batch.logdata import ev, write_log
from tests.http.asgi import ADMIN, Running, run
from tests.people.app import people_client

TZ = "Asia/Seoul"
ODD = 'o\'brien "ü" ☃/x'  # quotes, unicode and a slash
D1 = (datetime.now(UTC) - timedelta(days=4)).date()
D2, D3 = D1 + timedelta(days=1), D1 + timedelta(days=2)


def _loaded() -> list[dict[str, Any]]:
    return [
        ev(f"{D1}T20:00:00.000Z", anon="anon-A", type="page"),  # already the next day in Seoul
        ev(f"{D1}T20:05:00.000Z", anon="anon-A", event="Viewed Pricing"),
        ev(
            f"{D2}T09:00:00.000Z",
            type="identify",
            user="u-ann",
            anon="anon-A",
            traits={"plan": "free", "email": "ann@example.com"},
        ),
        ev(f"{D2}T09:10:00.000Z", user="u-ann", event="Clicked", tool="editor"),
        ev(f"{D3}T10:00:00.000Z", user="u-ann", event="Saved", mid="lake-saved"),
        ev(f"{D2}T11:00:00.000Z", type="identify", user="u-bob", traits={"plan": "free"}),
        ev(f"{D3}T12:00:00.000Z", user=ODD, event="Clicked"),
    ]


LOADED = _loaded()
TRAITS = {"traits": {"plan": "pro"}}
TODAY = [
    {"type": "track", "event": "Clicked", "userId": "u-ann", "messageId": "today-1", "context": TRAITS},
    {"type": "track", "event": "Clicked", "userId": "u-ann", "messageId": "today-1"},  # sent twice
    {"type": "track", "event": "Saved", "userId": "u-ann", "messageId": "lake-saved",
     "timestamp": f"{D3}T10:00:00.000Z"},  # a message of the lake sent again
    {"type": "page", "anonymousId": "anon-T", "messageId": "today-anon"},
    {"type": "identify", "userId": "u-today", "anonymousId": "anon-T", "traits": {"plan": "team"},
     "messageId": "today-id"},
    {"type": "track", "event": "Bought", "userId": "u-today", "messageId": "today-bought"},
    {"type": "track", "event": "Clicked", "userId": "u-gone", "messageId": "gone-1"},
]  # fmt: skip


def _lake(data: Path) -> None:
    for day in write_log(data, LOADED):
        run_daily(data, day, TZ)


async def _prepare(hw: Running) -> None:
    c, key = hw.client, {"X-Write-Key": hw.write_key}
    experiment = {"key": "checkout", "variations": ["control", "new"], "weights": [0.0, 1.0]}
    assert (await c.post("/api/v1/experiments", json=experiment, headers=ADMIN)).status_code == 201
    assert (await c.post("/api/v1/experiments/checkout/start", json={}, headers=ADMIN)).status_code == 200
    audience = {"id": "clickers", "name": "Clickers", "rule": {"event": "Clicked"}}
    assert (await c.post("/api/v1/audiences", json=audience, headers=ADMIN)).status_code == 201
    r = await c.post("/v1/batch", json={"batch": TODAY}, headers=key)
    assert r.status_code == 200 and r.json()["accepted"] == len(TODAY), r.text
    assigned = await c.post("/v1/assign", json={"userId": "u-ann"}, headers=key)
    assert assigned.status_code == 200 and assigned.json()["assignments"][0]["value"] == "new", assigned.text


async def _get(people: httpx.AsyncClient, path: str, status: int = 200) -> Any:
    r = await people.get(path, headers=ADMIN)
    assert r.status_code == status, (path, r.status_code, r.text)
    return r.json()


def test_people_over_the_lake_the_log_and_the_live_stores(tmp_path: Path) -> None:
    _lake(tmp_path / "data")

    async def scenario(hw: Running) -> None:
        await _prepare(hw)
        async with people_client(hw.runtime) as people:

            async def ready() -> bool:
                ann = await _get(people, "/api/v1/people/anon-A")
                today = await _get(people, "/api/v1/people/anon-T")
                return ann["audiences"] == ["clickers"] and today["user_id"] == "u-today"

            await hw.until(ready, timeout=30)
            await _profiles(people)
            await _timelines(people)
            await _searches(people)
            await _latest(people)
            erase_from_log(hw.settings.log_dir, ["u-gone"])
            gone = await _get(people, "/api/v1/events/latest?limit=1000")
            assert "gone-1" not in {e["messageId"] for e in gone["events"]}
            assert (await _get(people, "/api/v1/events/latest?user=u-gone"))["events"] == []
            assert (await _get(people, "/api/v1/people/u-gone/events"))["events"] == []
            await _refusals(people)

    run(tmp_path, scenario, timezone=TZ)


async def _profiles(people: httpx.AsyncClient) -> None:
    ann = await _get(people, "/api/v1/people/anon-A")
    assert ann["id"] == "anon-A" and ann["user_id"] == "u-ann"
    assert {(i["id"], i["kind"]) for i in ann["ids"]} == {("anon-A", "anonymousId"), ("u-ann", "userId")}
    assert ann["traits"] == {"plan": "pro", "email": "ann@example.com"}  # plan: today's, from the log
    assert ann["traits_updated"]["email"] == f"{D2}T09:00:00.000Z"
    assert ann["first_seen"] == f"{D1}T20:00:00.000Z"  # UTC, although D1 + 1 in Seoul
    assert ann["last_seen"] >= datetime.now(UTC).strftime("%Y-%m-%d") and ann["last_seen"].endswith("Z")
    # 5 loaded, today-1 (its copy and the lake message sent again: once) and the assignment's exposure
    assert ann["events"] == 7
    sessions = ann["sessions"]
    assert sessions["count"] >= 3 and all(s["start"].endswith("Z") and s["end"] for s in sessions["recent"])
    (assignment,) = ann["experiments"]
    assert assignment["experiment"] == "checkout" and assignment["variation"] == "1"
    assert assignment["exposed"] is True and assignment["hash_value"] == "u-ann"
    assert ann["live"] == "ok" and ann["audiences"] == ["clickers"]
    same = await _get(people, "/api/v1/people/u-ann")
    assert {k: v for k, v in same.items() if k != "id"} == {k: v for k, v in ann.items() if k != "id"}
    today = await _get(people, "/api/v1/people/u-today")  # merged by the realtime store's link only
    assert {i["id"] for i in today["ids"]} == {"u-today", "anon-T"} and today["traits"] == {"plan": "team"}
    odd = await _get(people, f"/api/v1/people/{quote(ODD, safe='')}")
    assert odd["user_id"] is None and odd["ids"] == [{"id": ODD, "kind": "userId"}] and odd["events"] == 1
    missing = await _get(people, "/api/v1/people/nobody-at-all", 404)
    assert missing["error"]["code"] == "person_not_found" and "'nobody-at-all'" in missing["error"]["message"]
    await _get(people, "/api/v1/people/nobody-at-all/events", 404)
    await _get(people, "/api/v1/people/null", 404)  # a junk id is nobody


async def _timelines(people: httpx.AsyncClient) -> None:
    seen: list[dict[str, Any]] = []
    path = "/api/v1/people/u-ann/events?limit=2"
    while True:
        page = await _get(people, path)
        assert len(page["events"]) <= 2 and page["user_id"] == "u-ann"
        seen += page["events"]
        if page["next"] is None:
            break
        path = f"/api/v1/people/anon-A/events?limit=2&before={page['next']}"  # any id of theirs
    ids = [e["messageId"] for e in seen]
    lake = [e["messageId"] for e in LOADED if e.get("userId") == "u-ann" or e.get("anonymousId") == "anon-A"]
    exposure = [e["messageId"] for e in seen if e["event"] == "Experiment Viewed"]
    assert len(exposure) == 1 and sorted(ids) == sorted(["today-1", *exposure, *lake])  # each once
    keys = [(e["timestamp"], e["messageId"]) for e in seen]
    assert keys == sorted(keys, reverse=True)
    assert {e["stored"] for e in seen} == {"lake", "log"}
    assert next(e for e in seen if e["messageId"] == "lake-saved")["stored"] == "lake"
    clicked = await _get(people, "/api/v1/people/u-ann/events?event=Clicked")
    assert [e["event"] for e in clicked["events"]] == ["Clicked", "Clicked"] and clicked["next"] is None
    odd = await _get(people, f"/api/v1/people/{quote(ODD, safe='')}/events")
    assert [e["userId"] for e in odd["events"]] == [ODD]
    today = await _get(people, "/api/v1/people/anon-T/events")
    assert {e["messageId"] for e in today["events"]} == {"today-anon", "today-id", "today-bought"}


async def _searches(people: httpx.AsyncClient) -> None:
    found = await _get(people, "/api/v1/people?search=u-")
    assert {"u-ann", "u-bob", "u-today", "u-gone"} <= {p["id"] for p in found["people"]}
    anon = await _get(people, "/api/v1/people?search=anon-A")
    assert anon["people"] == [{"id": "u-ann", "user_id": "u-ann", "matched": ["anon:anon-A"]}]
    pro = await _get(people, "/api/v1/people?search=pro&trait=plan")
    assert [p["id"] for p in pro["people"]] == ["u-ann"]  # today's value, not the lake's
    free = await _get(people, "/api/v1/people?search=free&trait=plan")
    assert [p["id"] for p in free["people"]] == ["u-bob"]
    team = await _get(people, "/api/v1/people?search=team&trait=plan")
    assert [p["id"] for p in team["people"]] == ["u-today"]
    odd = await _get(people, f"/api/v1/people?search={quote(ODD[:4], safe='')}")
    assert [p["id"] for p in odd["people"]] == [ODD]
    assert (await _get(people, "/api/v1/people?search=%25"))["people"] == []  # a text, not a pattern
    few = await _get(people, "/api/v1/people?search=u-&limit=1")
    assert len(few["people"]) == 1 and few["truncated"] is True


async def _latest(people: httpx.AsyncClient) -> None:
    newest = await _get(people, "/api/v1/events/latest?limit=3")
    assert len(newest["events"]) == 3 and newest["complete"] is True and newest["limit"] == 3
    stamps = [e["receivedAt"] for e in newest["events"]]
    assert stamps == sorted(stamps, reverse=True) and stamps[-1] >= datetime.now(UTC).strftime("%Y-%m-%d")
    ann = await _get(people, "/api/v1/events/latest?user=u-ann&limit=1000")
    assert {e["userId"] for e in ann["events"]} == {"u-ann"} and ann["filters"] == {"user": "u-ann"}
    assert [e["messageId"] for e in ann["events"]].count("today-1") == 2  # every line received
    identifies = await _get(people, "/api/v1/events/latest?type=identify")
    assert {e["messageId"] for e in identifies["events"]} >= {"today-id"}
    assert {e["type"] for e in identifies["events"]} == {"identify"}
    bought = await _get(people, "/api/v1/events/latest?event=Bought&source=in-process")
    assert [e["messageId"] for e in bought["events"]] == ["today-bought"]
    assert (await _get(people, "/api/v1/events/latest?source=nowhere"))["events"] == []


async def _refusals(people: httpx.AsyncClient) -> None:
    for path, name in [
        ("/api/v1/people/u-ann/events?limit=0", "limit"),
        ("/api/v1/people/u-ann/events?limit=1001", "limit"),
        ("/api/v1/people/u-ann/events?before=not-a-cursor", "before"),
        ("/api/v1/people?search=", "search"),
        ("/api/v1/people", "search"),
        ("/api/v1/events/latest?limit=abc", "limit"),
        ("/api/v1/people/" + "x" * 2049, "id"),
    ]:
        body = await _get(people, path, 400)
        assert f"'{name}'" in body["error"]["message"], (path, body)
    assert (await people.get("/api/v1/people/u-ann")).status_code == 401


def test_an_empty_install_answers_empty_lists_with_a_hint(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        async with people_client(hw.runtime) as people:
            latest = await _get(people, "/api/v1/events/latest")
            assert latest["events"] == [] and "POST /v1/track" in latest["hint"]
            found = await _get(people, "/api/v1/people?search=u")
            assert found["people"] == [] and "POST /v1/track" in found["hint"]
            await _get(people, "/api/v1/people/u1", 404)
            await _get(people, "/api/v1/people/u1/events", 404)

    run(tmp_path, scenario)
