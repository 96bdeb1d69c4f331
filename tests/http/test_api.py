"""Every API route in process (httpx's ASGI transport over the real application and its stores):
collection into the realtime, live and metric answers; experiments from definition to results;
audiences from definition to a bid request's segments; the dashboard's pages and data; operations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from headwater.http.dashboard import STATIC_PREFIX
from headwater.stores.sql.audiences import AudienceCatalog
from tests.http.asgi import ADMIN, TOKEN, Running, run


def now_text() -> str:
    return datetime.now(UTC).isoformat()


async def send(hw: Running, *events: dict[str, Any]) -> None:
    batch = [{"timestamp": now_text(), **e} for e in events]
    r = await hw.client.post("/v1/batch", json={"batch": batch}, auth=(hw.write_key, ""))
    assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text


def test_collection_reaches_realtime_live_and_metrics(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        today = datetime.now(UTC).date().isoformat()
        await send(
            hw,
            {"type": "track", "event": "Export Clicked", "userId": "u1", "properties": {"tool_id": "pdf"}},
            {"type": "track", "event": "Export Clicked", "userId": "u2", "properties": {"tool_id": "pdf"}},
            {"type": "page", "name": "Home", "anonymousId": "a1"},
        )
        one = await hw.client.post(
            "/v1/track", json={"event": "Saved", "userId": "u1"}, auth=(hw.write_key, "")
        )
        assert one.status_code == 200 and one.json()["accepted"] == 1
        api = await hw.client.post(
            "/api/events",
            json={"event_type": "opened", "user_id": "u3"},
            headers={"X-Write-Key": hw.write_key},
        )
        assert api.status_code == 200, api.text

        async def daily() -> dict[str, Any] | None:
            r = await hw.client.get("/api/v1/realtime/daily", params={"date": today}, headers=ADMIN)
            body: dict[str, Any] = r.json()
            return body if body["events"] == 5 else None

        body = await hw.until(daily)
        assert body["unique_users"] == 4
        assert {"tool_id": "pdf", "event_type": "Export Clicked", "count": 2} in body["rows"]
        sessions = (await hw.client.get("/api/v1/realtime/sessions?limit=10", headers=ADMIN)).json()
        assert sessions["count"] == 4 and len(sessions["sessions"]) == 4
        bad = await hw.client.get("/api/v1/realtime/sessions?limit=0", headers=ADMIN)
        assert bad.status_code == 400 and "limit" in bad.json()["error"]["message"]

        async def live_today() -> dict[str, Any] | None:
            r = await hw.client.get("/api/v1/live/today", headers=ADMIN)
            found: dict[str, Any] = r.json()
            return found if r.status_code == 200 and found["events"] == 5 else None

        today_body = await hw.until(live_today)
        assert today_body["active_users"] == 4
        active = (await hw.client.get("/api/v1/live/active-users?window=5m", headers=ADMIN)).json()
        assert active["active_users"] == 4
        hour = await hw.client.get("/api/v1/live/hourly", headers=ADMIN)
        assert hour.status_code == 200 and hour.json()["events"] == 5
        wrong = await hw.client.get("/api/v1/live/active-users?window=2d", headers=ADMIN)
        assert wrong.status_code == 400 and "window" in wrong.json()["error"]["message"]

        names = [m["name"] for m in (await hw.client.get("/api/v1/metrics", headers=ADMIN)).json()["metrics"]]
        assert {"dau", "wau", "mau", "funnel", "late_events"} <= set(names)
        dau = (await hw.client.get(f"/api/v1/metrics/dau?start={today}&end={today}", headers=ADMIN)).json()
        assert dau["rows"][-1]["value"] == 4  # the log not loaded yet is read too
        unknown = await hw.client.get(f"/api/v1/metrics/nope?start={today}&end={today}", headers=ADMIN)
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_metric"

    run(tmp_path, scenario)


EXPERIMENT = {
    "key": "checkout-button",
    "name": "Checkout button",
    "variations": ["control", "green"],
    "weights": [0.5, 0.5],
    "metrics": {"primary": {"key": "bought", "kind": "conversion", "event": "Order Completed"}},
}


def test_experiments_from_definition_to_results(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        created = await hw.client.post("/api/v1/experiments", json=EXPERIMENT, headers=ADMIN)
        assert created.status_code == 201 and created.json()["status"] == "draft", created.text
        again = await hw.client.post("/api/v1/experiments", json=EXPERIMENT, headers=ADMIN)
        assert again.status_code == 409
        invalid = await hw.client.post("/api/v1/experiments", json={"key": "x"}, headers=ADMIN)
        assert invalid.status_code == 400 and invalid.json()["error"]["field"] == "variations"
        patched = await hw.client.patch(
            "/api/v1/experiments/checkout-button", json={"name": "Checkout, green"}, headers=ADMIN
        )
        assert patched.json()["name"] == "Checkout, green"
        replaced = await hw.client.put("/api/v1/experiments/checkout-button", json=EXPERIMENT, headers=ADMIN)
        assert replaced.status_code == 200 and replaced.json()["name"] == "Checkout button"
        started = await hw.client.post("/api/v1/experiments/checkout-button/start", json={}, headers=ADMIN)
        assert started.json()["status"] == "running"
        listed = (await hw.client.get("/api/v1/experiments", headers=ADMIN)).json()["experiments"]
        assert [e["key"] for e in listed] == ["checkout-button"]
        one = (await hw.client.get("/api/v1/experiments/checkout-button", headers=ADMIN)).json()
        assert one["phases"][0]["phase"] == "0"

        key = {"X-Write-Key": hw.write_key}
        served = await hw.client.get("/v1/experiments/checkout-button/assignment?userId=u1", headers=key)
        assert served.status_code == 200, served.text
        first = served.json()
        assert first["inExperiment"] and first["exposureLogged"] and first["variationId"] in (0, 1)
        again_served = await hw.client.get(
            "/v1/experiments/checkout-button/assignment?userId=u1", headers=key
        )
        assert again_served.json()["key"] == first["key"] and not again_served.json()["exposureLogged"]
        every = await hw.client.post(
            "/v1/assign", json={"userId": "u2", "attributes": {"plan": "pro"}}, headers=key
        )
        (assignment,) = every.json()["assignments"]
        assert assignment["experimentKey"] == "checkout-button"
        no_id = await hw.client.post("/v1/assign", json={}, headers=key)
        assert no_id.status_code == 400 and no_id.json()["error"]["code"] == "missing_user_id"

        async def exposed() -> dict[str, Any] | None:
            r = await hw.client.get("/api/v1/experiments/checkout-button/results", headers=ADMIN)
            body: dict[str, Any] = r.json()
            return body if r.status_code == 200 and sum(body["exposure"]["users"].values()) == 2 else None

        results = await hw.until(exposed)
        assert len(results["metrics"][0]["variants"]) == 2
        bad = await hw.client.get("/api/v1/experiments/checkout-button/results?alpha=2", headers=ADMIN)
        assert bad.status_code == 400 and "alpha" in bad.json()["error"]["message"]
        cached = await hw.client.get("/dashboard/data/experiments/checkout-button/results", headers=ADMIN)
        assert cached.json()["exposure"] == results["exposure"]
        stopped = await hw.client.post("/api/v1/experiments/checkout-button/stop", headers=ADMIN)
        assert stopped.json()["status"] == "stopped"
        control = (
            await hw.client.get("/v1/experiments/checkout-button/assignment?userId=u9", headers=key)
        ).json()
        assert not control["inExperiment"] and control["variationId"] == 0

    run(tmp_path, scenario)


BUYERS = {
    "id": "buyers",
    "name": "Buyers",
    "taxonomy_id": "782",
    "sendable_to_buyers": True,
    "rule": {"event": "Order Completed", "where": [{"property": "total", "op": "gt", "value": 10}]},
}


def test_audiences_from_definition_to_a_bid_request(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        created = await hw.client.post("/api/v1/audiences", json=BUYERS, headers=ADMIN)
        assert created.status_code == 201, created.text
        assert (await hw.client.post("/api/v1/audiences", json=BUYERS, headers=ADMIN)).status_code == 409
        bad = await hw.client.post("/api/v1/audiences", json={**BUYERS, "id": "x", "rule": {}}, headers=ADMIN)
        assert bad.status_code == 400 and bad.json()["error"]["field"].startswith("rule")
        renamed = await hw.client.put(
            "/api/v1/audiences/buyers", json={**BUYERS, "name": "Big"}, headers=ADMIN
        )
        assert renamed.status_code == 200 and renamed.json()["name"] == "Big"
        await send(
            hw,
            {"type": "identify", "userId": "u1", "traits": {"advertisingId": "ifa-1"}},
            {"type": "track", "event": "Order Completed", "userId": "u1", "properties": {"total": 40}},
        )

        async def member() -> dict[str, Any] | None:
            r = await hw.client.get("/v1/users/ifa-1/segments", headers=ADMIN)
            body: dict[str, Any] = r.json()
            return body if r.status_code == 200 and body["audiences"] == ["buyers"] else None

        found = await hw.until(member)
        assert found["user"] == "u1" and found["segments"] == [{"id": "782", "segtax": 4}]
        listed = (await hw.client.get("/api/v1/audiences", headers=ADMIN)).json()["audiences"]
        assert listed[0]["id"] == "buyers" and listed[0]["live_size"] == 1
        one = (await hw.client.get("/api/v1/audiences/buyers", headers=ADMIN)).json()
        assert one["live_size"] == 1
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
            "device": {"ifa": "ifa-1"},
        }

        async def enriched() -> dict[str, Any] | None:  # the enrichment re-reads its keys twice a second
            r = await hw.client.post(
                "/openrtb2/enrich", json=request, headers={"Authorization": f"Bearer {enrich_key}"}
            )
            return r.json() if r.headers.get("x-headwater-enrichment") == "enriched" else None

        bid = await hw.until(enriched)
        assert bid["user"]["data"][0]["segment"] == [{"id": "782"}]
        refused = await hw.client.post("/openrtb2/enrich", json=request)
        assert refused.status_code == 401
        dry = (await hw.client.post("/api/v1/audiences/recompute?dry_run=true", headers=ADMIN)).json()
        assert dry["dry_run"] is True and dry["audiences"]["buyers"]["exact"] == 1
        assert (await hw.client.delete("/api/v1/audiences/buyers", headers=ADMIN)).status_code == 204
        assert (await hw.client.get("/api/v1/audiences/buyers", headers=ADMIN)).status_code == 404

    run(tmp_path, scenario)


def test_the_dashboard_pages_and_data(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        c = hw.client
        assert (await c.get("/dashboard")).status_code == 307
        assert (await c.get("/dashboard/")).headers["location"] == "/dashboard/login"
        form = await c.get("/dashboard/login")
        assert form.status_code == 200 and "content-security-policy" in form.headers
        wrong = await c.post("/dashboard/login", data={"token": "nope"})
        assert wrong.status_code == 401
        signed = await c.post("/dashboard/login", data={"token": TOKEN})
        cookie = signed.headers["set-cookie"]
        assert signed.status_code == 303 and cookie.startswith("headwater_session=hws_")
        assert TOKEN not in cookie  # a session of its own, never the token
        c.cookies.set("headwater_session", cookie.split(";")[0].split("=", 1)[1])
        page = await c.get("/dashboard/")
        assert page.status_code == 200 and 'rel="modulepreload"' in page.text
        assert 'data-funnel-steps="Signed Up,Project Created,Teammate Invited"' in page.text
        c.cookies.clear()
        # the page names this build's files, cached for good; other URLs are revalidated
        assert f'src="{STATIC_PREFIX}js/app.js"' in page.text
        versioned = await c.get(STATIC_PREFIX + "js/app.js")
        assert versioned.status_code == 200 and "immutable" in versioned.headers["cache-control"]
        script = await c.get("/dashboard/static/js/app.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        assert script.headers["cache-control"] == "no-cache" and script.content == versioned.content
        cached = await c.get("/dashboard/static/js/app.js", headers={"If-None-Match": script.headers["etag"]})
        assert cached.status_code == 304
        older = await c.get("/dashboard/static/0123456789ab/js/app.js")  # a page of an older build
        assert older.status_code == 200 and older.headers["cache-control"] == "no-cache"
        assert (await c.get("/dashboard/static/nothing.js")).status_code == 404
        assert (await c.get(STATIC_PREFIX + "nothing.js")).status_code == 404
        config = (await c.get("/api/v1/dashboard/config", headers=ADMIN)).json()
        assert config["apis"] == {"live": True, "experiments": True, "audiences": True}
        health = (await c.get("/api/v1/dashboard/health", headers=ADMIN)).json()
        assert "at" in health
        today = datetime.now(UTC).date().isoformat()
        queries = {
            "queries": [
                {"name": "dau", "start": today, "end": today},
                {"name": "x", "start": today, "end": today},
            ]
        }
        batch = (await c.post("/api/v1/dashboard/metrics", json=queries, headers=ADMIN)).json()["results"]
        assert batch[0]["metric"] == "dau" and batch[1]["error"]["code"] == "unknown_metric"
        assert (await c.post("/api/v1/dashboard/metrics", json={}, headers=ADMIN)).status_code == 400
        missing = await c.get("/dashboard/data/experiments/none/results", headers=ADMIN)
        assert missing.status_code == 404
        out = await c.post("/dashboard/logout")
        assert out.status_code == 303 and 'headwater_session=""' in out.headers["set-cookie"]

    run(tmp_path, scenario)


def test_operations(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        c = hw.client
        index = (await c.get("/")).json()
        assert index["dashboard"] == "/dashboard/" and index["docs"] == "/openapi.json"
        # a browser's navigation goes to the dashboard; API clients (*/*, JSON) keep the JSON
        browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        to_page = await c.get("/", headers={"Accept": browser})
        assert to_page.status_code == 303 and to_page.headers["location"] == "/dashboard/"
        for accept in ("*/*", "application/json", "application/json, text/html;q=0.5"):
            assert (await c.get("/", headers={"Accept": accept})).json()["dashboard"] == "/dashboard/"
        assert (await c.get("/healthz")).json()["status"] == "ok"
        public = await c.get("/readyz")
        assert public.status_code == 200 and public.json() == {"status": "ready"}
        ready = await c.get("/readyz", headers=ADMIN)
        assert ready.status_code == 200 and ready.json()["checks"]["events_log"] == "ok"
        assert {"tailer_realtime", "live", "audiences", "experiments"} <= set(ready.json()["checks"])
        assert (await c.get("/metrics")).status_code == 401
        metrics = await c.get("/metrics", headers=ADMIN)
        assert "headwater_events_accepted_total" in metrics.text
        doc = (await c.get("/openapi.json")).json()
        assert doc["openapi"] == "3.1.0" and "/v1/batch" in doc["paths"]

    run(tmp_path, scenario)


def test_a_key_created_just_after_a_refresh_works_at_once(tmp_path: Path) -> None:
    """The cache read the keys a moment ago, before this key existed: the request waits for a
    read that began after it arrived instead of answering 401 (it used to, for up to 100 ms)."""
    from headwater.stores.sql.database import open_database
    from headwater.stores.sql.keys import SqlWriteKeys

    async def scenario(hw: Running) -> None:
        db = open_database(hw.settings.effective_database_url)
        try:
            for _ in range(5):
                await hw.runtime.keys.refresh()  # a read of the store that has just completed
                key = SqlWriteKeys(db).create_key("just-now").key
                r = await hw.client.post("/v1/track", json={"event": "E", "userId": "u"}, auth=(key, ""))
                assert r.status_code == 200, r.text
        finally:
            db.close()
        unknown = await hw.client.post("/v1/track", json={"event": "E", "userId": "u"}, auth=("hw_nope", ""))
        assert unknown.status_code == 401 and unknown.json()["error"]["code"] == "unknown_write_key"

    run(tmp_path, scenario)
