"""The dashboard's own endpoints over HTTP: the metric batch answers what the metrics API answers,
errors per query, and every endpoint wants the admin token."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import httpx

from tests.dashboard.support import TOKEN, api_get
from tests.helpers import Server, create_key

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
    assert httpx.post(url, content=b"{", headers=AUTH).json()["error"]["code"] == "invalid_json"
    for body in ({}, {"queries": []}, {"queries": [{"name": "dau"}]}, {"queries": [1]}):
        resp = httpx.post(url, json=body, headers=AUTH)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_parameter", body
    assert httpx.post(url, content=b"x" * 70_000, headers=AUTH).status_code == 413


def test_every_dashboard_endpoint_wants_the_admin_token(demo_server: Server) -> None:
    for method, path in (
        ("GET", "/api/v1/dashboard/config"),
        ("GET", "/api/v1/dashboard/health"),
        ("POST", "/api/v1/dashboard/metrics"),
    ):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "headwater_admin=wrong"}):
            resp = httpx.request(method, demo_server.url + path, headers=headers, json={"queries": []})
            assert resp.status_code == 401, (path, headers)
    page = httpx.get(demo_server.url + "/dashboard/", headers={"Cookie": "headwater_admin=wrong"})
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
