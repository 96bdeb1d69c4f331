"""The collection API's happy paths against a real server (Segment shapes, CORS, ops endpoints)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from headwater.http.clientip import ClientIpResolver
from tests.helpers import Server, read_log

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


def stored(server: Server, message_id: str) -> dict[str, Any]:
    found = [e for e in read_log(server.data_dir) if e["messageId"] == message_id]
    assert len(found) == 1, f"{message_id} logged {len(found)} times"
    return found[0]


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/v1/track", "track"),
        ("/v1/identify", "identify"),
        ("/v1/page", "page"),
        ("/v1/screen", "screen"),
        ("/v1/group", "group"),
        ("/v1/alias", "alias"),
        ("/v1/t", "track"),
        ("/v1/i", "identify"),
        ("/v1/p", "page"),
        ("/v1/s", "screen"),
        ("/v1/g", "group"),
        ("/v1/a", "alias"),
    ],
)
def test_single_message_paths(server: Server, write_key: str, path: str, kind: str) -> None:
    mid = str(uuid.uuid4())
    body: dict[str, Any] = {
        "userId": "u1",
        "messageId": mid,
        "event": "Clicked",
        "groupId": "g1",
        "previousId": "anon-1",
        "writeKey": write_key,
    }
    resp = httpx.post(server.url + path, content=json.dumps(body), headers={"Content-Type": "text/plain"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"success": True, "accepted": 1, "rejected": []}
    assert stored(server, mid)["type"] == kind


def test_browser_request_text_plain_with_cors(server: Server, write_key: str) -> None:
    origin = "https://shop.example.com"
    pre = httpx.options(
        server.url + "/v1/t",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == origin
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    assert "POST" in pre.headers["access-control-allow-methods"]
    mid = str(uuid.uuid4())
    resp = httpx.post(
        server.url + "/v1/t",
        auth=(write_key, ""),
        headers={"Origin": origin, "Content-Type": "text/plain", "User-Agent": CHROME},
        content=json.dumps({"type": "track", "event": "Viewed", "anonymousId": "a-1", "messageId": mid}),
    )
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == origin
    assert resp.headers["access-control-expose-headers"] == "Retry-After"  # readable after a 429
    ev = stored(server, mid)
    assert ev["context"]["userAgent"] == CHROME
    assert ev["_hw"]["ua"]["browser"] == "Chrome" and ev["_hw"]["bot"] is False
    assert ev["context"]["ip"] == "127.0.0.0"  # truncated by the default policy


def test_project_settings_for_analytics_js(server: Server, write_key: str) -> None:
    resp = httpx.get(f"{server.url}/v1/projects/{write_key}/settings")
    assert resp.status_code == 200
    assert resp.json()["integrations"]["Segment.io"]["apiKey"] == write_key
    assert httpx.get(f"{server.url}/v1/projects/hw_unknown/settings").status_code == 404


def test_batch_with_shared_context_and_sent_at(server: Server, write_key: str) -> None:
    mids = [str(uuid.uuid4()), str(uuid.uuid4())]
    body = {
        "batch": [
            {
                "type": "track",
                "event": "A",
                "userId": "u",
                "messageId": mids[0],
                "originalTimestamp": "2026-01-01T00:00:00.000Z",
            },
            {
                "type": "track",
                "event": "B",
                "userId": "u",
                "messageId": mids[1],
                "context": {"locale": "fr-FR"},
            },
        ],
        "context": {"library": {"name": "analytics-node", "version": "3.0"}, "locale": "en-US"},
        "sentAt": "2026-01-01T00:00:10.000Z",
    }
    resp = httpx.post(server.url + "/v1/batch", json=body, auth=(write_key, ""))
    assert resp.json()["accepted"] == 2
    a, b = stored(server, mids[0]), stored(server, mids[1])
    assert a["context"]["library"]["name"] == "analytics-node" and a["context"]["locale"] == "en-US"
    assert b["context"]["locale"] == "fr-FR"  # the event's own context wins
    # device clock 2026-01-01, sent 10 s after the event: timestamp = receivedAt - 10 s
    from datetime import datetime

    delta = datetime.fromisoformat(a["receivedAt"]) - datetime.fromisoformat(a["timestamp"])
    assert abs(delta.total_seconds() - 10) < 0.002
    assert a["sentAt"] == "2026-01-01T00:00:10.000Z"


def test_api_events_object_and_array(server: Server, write_key: str) -> None:
    one = {"event_type": "opened", "user_id": "u5", "tool_id": "editor", "message_id": str(uuid.uuid4())}
    resp = httpx.post(server.url + "/api/events", json=one, headers={"X-Write-Key": write_key})
    assert resp.json() == {"success": True, "accepted": 1, "rejected": []}
    ev = stored(server, one["message_id"])
    assert ev["event"] == "opened" and ev["_hw"]["tool_id"] == "editor" and ev["userId"] == "u5"
    many = [{"event_type": "x", "user_id": "u", "message_id": str(uuid.uuid4())}, {"event_type": "y"}]
    resp = httpx.post(server.url + "/api/events", json=many, headers={"X-Write-Key": write_key})
    body = resp.json()
    assert resp.status_code == 200 and body["accepted"] == 1
    assert body["rejected"][0]["index"] == 1 and body["rejected"][0]["code"] == "missing_id"


def test_acknowledged_means_in_the_log_with_the_source(server: Server, write_key: str) -> None:
    mid = str(uuid.uuid4())
    httpx.post(
        server.url + "/v1/track",
        json={
            "event": "e",
            "userId": "u",
            "messageId": mid,
            "properties": {"nested": {"a": [1, 2, {"b": None}]}},
        },
        headers={"X-Write-Key": write_key},
    )
    ev = stored(server, mid)  # read straight after the 200: it is there
    assert ev["properties"]["nested"] == {"a": [1, 2, {"b": None}]}
    assert ev["_hw"]["source"] == "module-source"


def test_health_ready_metrics_openapi(server: Server, write_key: str) -> None:
    assert httpx.get(server.url + "/healthz").json()["status"] == "ok"
    assert httpx.get(server.url + "/readyz").json() == {"status": "ready"}  # the details: admin only
    ready = server.readyz()
    assert ready.status_code == 200 and ready.json()["checks"]["events_log"] == "ok"
    httpx.post(
        server.url + "/v1/batch",
        json={"batch": [{"type": "bogus", "userId": "u"}]},
        headers={"X-Write-Key": write_key},
    )
    assert httpx.get(server.url + "/metrics").status_code == 401
    text = server.metrics()
    assert 'headwater_events_accepted_total{source="module-source"}' in text
    assert 'headwater_events_rejected_total{code="unknown_type",source="module-source"}' in text
    assert "headwater_request_duration_seconds_bucket" in text
    assert 'headwater_log_bytes_total{kind="events"}' in text
    assert "headwater_log_fsync_seconds_count" in text
    doc = httpx.get(server.url + "/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/v1/batch" in doc["paths"]
    # every mounted route is documented, the admin API with its security scheme
    for path, method in [
        ("/api/v1/realtime/daily", "get"),
        ("/api/v1/metrics/{name}", "get"),
        ("/api/v1/experiments/{key}/results", "get"),
        ("/api/v1/audiences", "post"),
        ("/v1/assign", "post"),
        ("/openrtb2/enrich", "post"),
        ("/dashboard/login", "post"),
    ]:
        assert method in doc["paths"][path], (path, method)
    assert {"admin": []} in doc["paths"]["/api/v1/realtime/daily"]["get"]["security"]
    assert doc["paths"]["/api/v1/realtime/daily"]["get"]["summary"]


def test_trusted_proxy_forwarded_for() -> None:
    r = ClientIpResolver(["10.0.0.0/8"])
    assert r.resolve("10.1.2.3", "198.51.100.7, 10.9.9.9") == "198.51.100.7"
    assert r.resolve("192.0.2.1", "198.51.100.7") == "192.0.2.1"  # untrusted peer: header ignored
    assert ClientIpResolver([]).resolve("10.1.2.3", "198.51.100.7") == "10.1.2.3"
