"""Collection quotas against a real server (issue 18, item 7): per write key (events) and per client
address (requests), both off by default; over a quota, 429 with Retry-After and nothing stored.
The Segment Python client honours the 429 and delivers everything exactly once."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import segment.analytics as analytics
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import Server, cli, create_key, read_log

PROXY = "127.0.0.1"  # a trusted proxy on the per-address server
OTHER = "127.0.0.2"  # a client that connects directly (Linux routes 127/8 to lo)


def client(srv: Server, source: str = PROXY) -> httpx.Client:
    return httpx.Client(base_url=srv.url, transport=httpx.HTTPTransport(local_address=source), timeout=10)


def batch(tag: str, n: int) -> tuple[dict[str, Any], list[str]]:
    ids = [f"{tag}-{uuid.uuid4()}" for _ in range(n)]
    events = [{"type": "track", "event": "Quota", "userId": "u1", "messageId": m} for m in ids]
    return {"batch": events}, ids


def logged_ids(srv: Server) -> Counter[str]:
    return Counter(e["messageId"] for e in read_log(srv.data_dir))


def metric(srv: Server, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(srv.metrics()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def assert_rate_limited(r: httpx.Response, setting: str) -> int:
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["success"] is False and body["error"]["code"] == "rate_limited", body
    assert setting in body["error"]["message"] and "nothing was stored" in body["error"]["message"]
    retry_after = int(r.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


@pytest.fixture(scope="module")
def key_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"HEADWATER_COLLECT_RATE_PER_KEY": "1", "HEADWATER_COLLECT_BURST_PER_KEY": "20"}
    with Server(tmp_path_factory.mktemp("per-key") / "data", env=env) as srv:
        yield srv


def test_per_key_quota_refuses_beyond_the_burst_and_stores_nothing(key_srv: Server) -> None:
    key, other = create_key(key_srv.data_dir, "quota-a"), create_key(key_srv.data_dir, "quota-b")
    accepted: list[str] = []
    with client(key_srv) as c:
        for _ in range(2):  # 2 x 10 events: the burst of 20
            body, ids = batch("a", 10)
            r = c.post("/v1/batch", json=body, auth=(key, ""))
            assert r.status_code == 200 and r.json()["accepted"] == 10, r.text
            accepted += ids
        body, refused = batch("a", 10)
        r = c.post("/v1/batch", json=body, auth=(key, ""))
        assert assert_rate_limited(r, "HEADWATER_COLLECT_RATE_PER_KEY") >= 9  # 10 events at 1/s
        single = c.post("/v1/track", json={**body["batch"][0], "messageId": "a-single"}, auth=(key, ""))
        assert_rate_limited(single, "HEADWATER_COLLECT_RATE_PER_KEY")
        refused.append("a-single")
        # the key in the body counts the same
        r = c.post("/v1/batch", json={**batch("a", 1)[0], "writeKey": key})
        assert_rate_limited(r, "HEADWATER_COLLECT_RATE_PER_KEY")
        # another write key is unaffected
        body, other_ids = batch("b", 20)
        r = c.post("/v1/batch", json=body, auth=(other, ""))
        assert r.status_code == 200 and r.json()["accepted"] == 20, r.text
    logged = logged_ids(key_srv)
    assert all(logged[m] == 1 for m in accepted + other_ids)
    assert not any(logged[m] for m in refused)
    assert sum(1 for m in logged if m.startswith("a-")) == 20
    assert not read_log(key_srv.data_dir, "quarantine")
    assert metric(key_srv, "headwater_requests_total", route="batch", status="429") == 2
    assert metric(key_srv, "headwater_requests_total", route="single", status="429") == 1
    assert metric(key_srv, "headwater_events_rejected_total", source="quota-a", code="rate_limited") == 12


@pytest.fixture(scope="module")
def address_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "HEADWATER_COLLECT_RATE_PER_ADDRESS": "0.5",
        "HEADWATER_COLLECT_BURST_PER_ADDRESS": "5",
        "HEADWATER_TRUSTED_PROXIES": f'["{PROXY}"]',
    }
    with Server(tmp_path_factory.mktemp("per-address") / "data", env=env) as srv:
        yield srv


def test_per_address_quota_counts_requests_before_the_body(address_srv: Server) -> None:
    key = create_key(address_srv.data_dir, "addr")
    with client(address_srv, OTHER) as c:
        for _ in range(5):
            r = c.post("/v1/batch", json=batch("direct", 3)[0], auth=(key, ""))
            assert r.status_code == 200, r.text
        body, refused = batch("direct", 1)
        r = c.post("/v1/batch", json=body, auth=(key, ""))
        assert assert_rate_limited(r, "HEADWATER_COLLECT_RATE_PER_ADDRESS") == 2  # 1 request at 0.5/s
        # checked before the write key and the body: over quota, even a bad request is a 429
        r = c.post("/v1/batch", content=b"not json", auth=("unknown-key", ""))
        assert_rate_limited(r, "HEADWATER_COLLECT_RATE_PER_ADDRESS")
        # X-Forwarded-For from an untrusted peer is not believed
        r = c.post("/v1/batch", json=body, auth=(key, ""), headers={"X-Forwarded-For": "203.0.113.50"})
        assert r.status_code == 429
    with client(address_srv, PROXY) as c:  # behind the trusted proxy, each client has its own quota
        for _ in range(5):
            h = {"X-Forwarded-For": "203.0.113.1"}
            assert c.post("/v1/batch", json=batch("p1", 1)[0], auth=(key, ""), headers=h).status_code == 200
        r = c.post("/v1/batch", json=body, auth=(key, ""), headers={"X-Forwarded-For": "203.0.113.1"})
        assert_rate_limited(r, "HEADWATER_COLLECT_RATE_PER_ADDRESS")
        r = c.post(
            "/v1/batch", json=batch("p2", 1)[0], auth=(key, ""), headers={"X-Forwarded-For": "203.0.113.2"}
        )
        assert r.status_code == 200, r.text
        assert c.get("/healthz").status_code == 200  # only collection counts
    logged = logged_ids(address_srv)
    assert sum(1 for m in logged if m.startswith("direct-")) == 15 and not logged[refused[0]]
    assert metric(address_srv, "headwater_requests_total", route="batch", status="429") == 4


def test_quotas_are_off_by_default(tmp_path: Path) -> None:
    key = create_key(tmp_path / "data", "free")
    with Server(tmp_path / "data") as srv, client(srv) as c:
        statuses = Counter(
            c.post("/v1/track", json=batch("free", 1)[0]["batch"][0], auth=(key, "")).status_code
            for _ in range(500)
        )
        assert statuses == {200: 500}
        assert sum(1 for m in logged_ids(srv) if m.startswith("free-")) == 500


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HEADWATER_COLLECT_RATE_PER_KEY", "-1"),
        ("HEADWATER_COLLECT_RATE_PER_KEY", "abc"),
        ("HEADWATER_COLLECT_RATE_PER_ADDRESS", "0"),
        ("HEADWATER_COLLECT_BURST_PER_KEY", "0"),
        ("HEADWATER_SIGNIN_FAILURES_PER_MINUTE", "0"),
    ],
)
def test_a_bad_setting_stops_the_server_naming_it(tmp_path: Path, name: str, value: str) -> None:
    out = cli(tmp_path / "data", "serve", "--port", "0", env={name: value}, check=False)
    assert out.returncode != 0
    assert name in out.stderr, out.stderr


def test_the_segment_client_honours_retry_after(tmp_path: Path) -> None:
    """400 events at 100 events/s (burst 100): the client is told to wait, waits, and every event
    arrives exactly once."""
    env = {"HEADWATER_COLLECT_RATE_PER_KEY": "100", "HEADWATER_COLLECT_BURST_PER_KEY": "100"}
    key = create_key(tmp_path / "data", "segment")
    with Server(tmp_path / "data", env=env) as srv:
        errors: list[Any] = []
        seg = analytics.Client(
            key, host=srv.url, on_error=lambda e, batch: errors.append(e), max_retries=3, timeout=10
        )
        started = time.monotonic()
        try:
            ids = [
                seg.track(user_id=f"u{i % 7}", event="Quota", properties={"i": i})[1]["messageId"]
                for i in range(400)
            ]
            seg.flush()
        finally:
            seg.shutdown()
        elapsed = time.monotonic() - started
        assert errors == []
        refused = metric(srv, "headwater_requests_total", route="batch", status="429")
        assert 1 <= refused <= 10, refused  # it waited as told rather than hammering
        assert elapsed >= 2.5  # 300 events beyond the burst at 100/s
        logged = logged_ids(srv)
        assert len(ids) == len(set(ids)) == 400
        assert [m for m in ids if logged[m] != 1] == []
        assert sum(logged.values()) == 400
