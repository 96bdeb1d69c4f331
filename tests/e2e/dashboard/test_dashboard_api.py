"""The dashboard's own endpoints over HTTP: the metric batch answers what the metrics API answers,
errors per query, and every endpoint wants the admin token."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.e2e.dashboard.late import expected_late
from tests.e2e.dashboard.support import TOKEN, api_get
from tests.helpers import Server, cli, create_key

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_metric_batch_answers_what_the_metrics_api_answers(demo_server: Server) -> None:
    end = date.today() - timedelta(days=1)
    start = (end - timedelta(days=9)).isoformat()
    queries = [
        {"name": "dau", "start": start, "end": end.isoformat(), "tz": "UTC"},
        {"name": "features", "start": start, "end": end.isoformat(), "tz": "Europe/Paris"},
        {"name": "preferences", "start": start, "end": end.isoformat(), "options": {"property": "theme"}},
        {"name": "funnel", "start": start, "end": end.isoformat(), "options": {"steps": "Signed Up"}},
        {"name": "nope", "start": start, "end": end.isoformat()},
        {"name": "dau", "start": end.isoformat(), "end": start},
    ]
    for _ in range(2):  # computed, then from the cache: the same answers
        resp = httpx.post(
            demo_server.url + "/api/v1/dashboard/metrics", json={"queries": queries}, headers=AUTH
        )
        assert resp.status_code == 200, resp.text
        results = resp.json()["results"]
        for query, result in zip(queries[:3], results, strict=False):
            params = {"start": query["start"], "end": query["end"], **query.get("options", {})}
            if "tz" in query:
                params["tz"] = query["tz"]
            assert result == api_get(demo_server, f"/api/v1/metrics/{query['name']}", **params)
        assert results[3]["status"] == 400 and "steps" in results[3]["error"]["message"]
        assert results[4]["status"] == 404 and results[4]["error"]["code"] == "unknown_metric"
        assert results[5]["error"]["code"] == "start_after_end"


def test_bad_batches_are_refused(demo_server: Server) -> None:
    url = demo_server.url + "/api/v1/dashboard/metrics"
    as_json = {**AUTH, "Content-Type": "application/json"}
    assert httpx.post(url, content=b"{", headers=as_json).json()["error"]["code"] == "invalid_json"
    for body in ({}, {"queries": []}, {"queries": [{"name": "dau"}]}, {"queries": [1]}):
        resp = httpx.post(url, json=body, headers=AUTH)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_parameter", body
    assert httpx.post(url, content=b"x" * 70_000, headers=as_json).status_code == 413
    assert httpx.post(url, content=b"{}", headers={**AUTH, "Content-Type": "text/plain"}).status_code == 415


def test_every_dashboard_endpoint_wants_the_admin_token(demo_server: Server) -> None:
    for method, path in (
        ("GET", "/api/v1/dashboard/config"),
        ("GET", "/api/v1/dashboard/health"),
        ("POST", "/api/v1/dashboard/metrics"),
    ):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "headwater_session=wrong"}):
            resp = httpx.request(method, demo_server.url + path, headers=headers, json={"queries": []})
            assert resp.status_code == 401, (path, headers)
    page = httpx.get(demo_server.url + "/dashboard/", headers={"Cookie": f"headwater_session={TOKEN}"})
    assert page.status_code == 303 and page.headers["location"] == "/dashboard/login"
    cross_site = httpx.post(
        demo_server.url + "/dashboard/login",
        data={"token": TOKEN},
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403 and "set-cookie" not in cross_site.headers


def test_health_reports_the_tailers_the_log_and_the_etl(demo_server: Server) -> None:
    health = api_get(demo_server, "/api/v1/dashboard/health")
    assert {t["name"] for t in health["tailers"]} >= {"realtime"}
    assert health["log"]["files"] >= 1 and health["log"]["bytes"] > 0
    assert health["etl"]["last_load"]["rows_out"] > 0
    assert health["quarantine"]["events_total"] >= 0
    assert set(health["ingest"]) == {"accepted_total", "rejected_total"}


def test_cached_answers_follow_new_events(demo_server: Server) -> None:
    """A range that includes today is recomputed as soon as the log grows."""
    today = datetime.now(UTC).date().isoformat()
    query = {"queries": [{"name": "dau", "start": today, "end": today, "tz": "UTC"}]}
    url = demo_server.url + "/api/v1/dashboard/metrics"

    def dau() -> int:
        resp = httpx.post(url, json=query, headers=AUTH, timeout=60)
        assert resp.status_code == 200, resp.text
        return int(resp.json()["results"][0]["rows"][0]["value"])

    before = dau()
    assert dau() == before  # cached
    key = create_key(demo_server.data_dir, "dashboard-cache")
    batch = [{"type": "track", "userId": f"cache-probe-{i}", "event": "Cache Probe"} for i in range(3)]
    for _ in range(50):  # a new key reaches the collector within its refresh interval
        resp = httpx.post(demo_server.url + "/v1/batch", json={"batch": batch}, auth=(key, ""), timeout=10)
        if resp.status_code == 200:
            break
        time.sleep(0.3)
    assert resp.status_code == 200, resp.text
    assert dau() == before + 3
    assert (
        dau()
        == api_get(demo_server, "/api/v1/metrics/dau", start=today, end=today, tz="UTC")["rows"][0]["value"]
    )


def late_answer(srv: Server, start: str, end: str, tz: str) -> dict[str, Any]:
    query = {"queries": [{"name": "late_events", "start": start, "end": end, "tz": tz}]}
    resp = httpx.post(srv.url + "/api/v1/dashboard/metrics", json=query, headers=AUTH, timeout=60)
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["results"][0])


def test_late_events_are_counted_by_the_day_of_their_timestamp(tmp_path: Path) -> None:
    """Events sent 26 hours after their timestamp are late in every time zone; events without a
    timestamp (stamped on receipt) never are. The counts equal a count by hand over the raw log."""
    data = tmp_path / "data"
    cli(data, "demo", "--users", "8", "--days", "3", "--no-etl")
    srv = Server(data, env={"HEADWATER_ADMIN_TOKEN": TOKEN}).start(timeout=60)
    try:
        key = create_key(data, "late-events")
        now = datetime.now(UTC)
        old = (now - timedelta(hours=26)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        batch = [
            {"type": "track", "userId": f"late-{i}", "event": "Offline Edit", "timestamp": old}
            for i in range(7)
        ] + [{"type": "track", "userId": f"now-{i}", "event": "Online Edit"} for i in range(4)]
        for _ in range(50):  # a new key reaches the collector within its refresh interval
            resp = httpx.post(srv.url + "/v1/batch", json={"batch": batch}, auth=(key, ""), timeout=10)
            if resp.status_code == 200:
                break
            time.sleep(0.3)
        assert resp.status_code == 200 and resp.json()["accepted"] == 11, resp.text
        for tz in ("UTC", "Pacific/Kiritimati", "America/Los_Angeles"):
            zone = ZoneInfo(tz)
            late_day = (now - timedelta(hours=26)).astimezone(zone).date()
            today = now.astimezone(zone).date()
            for first, last in ((late_day, late_day), (today - timedelta(days=4), today)):
                answer = late_answer(srv, first.isoformat(), last.isoformat(), tz)
                events, late = expected_late(data, first, last, tz)
                assert (answer["events"], answer["late"]) == (events, late), (tz, first, last)
                assert answer["late"] >= 7 and answer["events"] > answer["late"] - 1
                assert sum(r["late"] for r in answer["rows"]) == late
                assert answer["rows"][0]["date"] == first.isoformat()
            # the demo's history was all sent now: every event before today is late
            day = late_answer(srv, late_day.isoformat(), late_day.isoformat(), tz)
            assert day["late"] == day["events"]
            # today's events were received today: none is late (the 4 without timestamp among them)
            now_answer = late_answer(srv, today.isoformat(), today.isoformat(), tz)
            assert now_answer["late"] == 0 and now_answer["events"] >= 4
        bad = httpx.post(
            srv.url + "/api/v1/dashboard/metrics",
            json={
                "queries": [
                    {"name": "late_events", "start": "2026-01-01", "end": "2026-01-02", "options": {"x": "1"}}
                ]
            },
            headers=AUTH,
        ).json()["results"][0]
        assert bad["status"] == 400 and bad["error"]["code"] == "unknown_parameter"
    finally:
        srv.stop()


def test_cached_experiment_results_equal_the_results_api(demo_server: Server) -> None:
    (exp,) = api_get(demo_server, "/api/v1/experiments")["experiments"]
    assert exp["key"] == "onboarding-checklist" and exp["status"] == "running"
    expected = api_get(demo_server, f"/api/v1/experiments/{exp['key']}/results")
    url = demo_server.url + f"/dashboard/data/experiments/{exp['key']}/results"
    for _ in range(2):  # computed (or from the warm-up), then cached: the same answer
        resp = httpx.get(url, headers=AUTH, timeout=60)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body.pop("computed_at")
        assert body == expected
    assert sum(expected["exposure"]["users"].values()) > 50  # the demo's sign-ups, both variations
    assert all(n > 0 for n in expected["exposure"]["users"].values())
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
    missing = httpx.get(demo_server.url + "/dashboard/data/experiments/nope/results", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_experiment"
