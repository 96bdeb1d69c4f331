"""The real Segment and RudderStack Python clients against a real `headwater serve`.

Between each client and the server sits a recording tap (a tiny HTTP forwarder, no fakes): it keeps
the exact headers and body every request carried and the status the server answered, so the test
compares the log with what the client really sent instead of with what we assume it sends.
"""

from __future__ import annotations

import gzip
import http.client
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import rudderstack.analytics as rudder_analytics
import rudderstack.analytics.request as rudder_request
import segment.analytics as analytics
import segment.analytics.request as segment_request

from tests.helpers import Server, create_key, read_log

# Fields the collector is allowed to fill in or correct (DESIGN section 2, normalize.py).
SERVER_FIELDS = {"receivedAt", "timestamp", "originalTimestamp", "sentAt", "_hw"}


# -- the recording tap ------------------------------------------------------------------------
@dataclass
class Exchange:
    path: str
    headers: dict[str, str]
    raw_body: bytes
    status: int
    response: bytes

    def json_body(self) -> Any:
        data = self.raw_body
        if self.headers.get("content-encoding", "").lower() == "gzip":
            data = gzip.decompress(data)
        return json.loads(data)


@dataclass
class Tap:
    upstream_port: int
    strip_auth: bool = False
    exchanges: list[Exchange] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> Tap:
        tap = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                forward = {
                    k: v
                    for k, v in headers.items()
                    if k not in {"host", "connection", "keep-alive"}
                    and not (tap.strip_auth and k == "authorization")
                }
                conn = http.client.HTTPConnection("127.0.0.1", tap.upstream_port, timeout=15)
                try:
                    conn.request("POST", self.path, body=body, headers=forward)
                    res = conn.getresponse()
                    status, payload = res.status, res.read()
                    content_type = res.getheader("content-type", "application/json")
                finally:
                    conn.close()
                with tap.lock:
                    tap.exchanges.append(Exchange(self.path, headers, body, status, payload))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, name="tap", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def sent_events(self) -> list[dict[str, Any]]:
        """Every event of every request the server answered 200, with the batch's sentAt."""
        out = []
        for ex in self.exchanges:
            if ex.status != 200:
                continue
            body = ex.json_body()
            for event in body["batch"]:
                out.append({**event, "__sentAt": body["sentAt"]})
        return out


@pytest.fixture
def tap(server: Server) -> Iterator[Callable[..., Tap]]:
    taps: list[Tap] = []

    def make(strip_auth: bool = False) -> Tap:
        t = Tap(server.port, strip_auth=strip_auth).start()
        taps.append(t)
        return t

    yield make
    # the SDKs keep module-level requests sessions: close their pooled connections to the tap
    segment_request._session.close()
    rudder_request._session.close()
    for t in taps:
        t.stop()


# -- what the clients send ----------------------------------------------------------------------
def drive(client: Any, n_users: int, explicit_ids: bool = False) -> list[str]:
    """A realistic mix of every call type; returns the messageIds the client reported queuing.

    ``explicit_ids``: pass our own message_id to every call (rudder's module-level functions
    return nothing, so that is how we know those ids).
    """
    ids: list[str] = []
    own: dict[str, Any] = {}

    def record(result: tuple[bool, dict[str, Any]] | None) -> None:
        if result is None:
            ids.append(own["message_id"])
        else:
            ok, msg = result
            assert ok, f"the client refused to queue {msg}"
            ids.append(msg["messageId"])
            if explicit_ids:
                assert msg["messageId"] == own["message_id"]
        if explicit_ids:
            own["message_id"] = f"explicit-{uuid.uuid4()}"

    if explicit_ids:
        own["message_id"] = f"explicit-{uuid.uuid4()}"

    base = datetime.now(UTC) - timedelta(seconds=30)
    for u in range(n_users):
        user, anon = f"user-{u}-{uuid.uuid4().hex[:6]}", f"anon-{uuid.uuid4()}"
        ctx = {
            "app": {"name": "demo", "version": "1.2.3", "build": 42},
            "locale": "fr-FR",
            "campaign": {"source": "newsletter", "medium": "email"},
            "device": {"type": "server"},
        }
        record(
            client.identify(
                user,
                traits={"email": f"{user}@example.com", "plan": "pro", "age": 30 + u, "vip": u % 2 == 0},
                context=dict(ctx),
                anonymous_id=anon,
                **own,
            )
        )
        record(client.page(user, category="Docs", name="Install", properties={"path": "/docs/é?q=1"}, **own))
        record(client.screen(user, name="Home", properties={"tab": "feed", "dark": True}, **own))
        for i in range(4):
            record(
                client.track(
                    user,
                    "Tool Used",
                    properties={
                        "tool_id": f"tool-{i}",
                        "duration_ms": 12.5 * i,
                        "count": i,
                        "tags": ["a", "b", i],
                        "nested": {"deep": {"deeper": [1, {"x": None}]}},
                        "unicode": "naïve 日本 🎉",
                        "none": None,
                    },
                    context=dict(ctx),
                    timestamp=base + timedelta(milliseconds=137 * i),
                    **own,
                )
            )
        record(client.group(user, group_id=f"org-{u % 3}", traits={"name": "Acme", "employees": 250}, **own))
        record(client.alias(previous_id=anon, user_id=user, **own))
    return ids


def check_log_matches(server: Server, sent: list[dict[str, Any]], ids: list[str], source: str) -> None:
    """Each sent event is in the log exactly once, as sent plus the collector's normalization."""
    sent_ids = [e["messageId"] for e in sent]
    assert sorted(sent_ids) == sorted(ids), "the tap saw other messageIds than the client returned"
    assert len(set(ids)) == len(ids)

    logged = read_log(server.data_dir)
    counts = Counter(e["messageId"] for e in logged)
    by_id = {e["messageId"]: e for e in logged}
    missing = [m for m in ids if counts[m] == 0]
    dupes = [m for m in ids if counts[m] > 1]
    assert not missing, f"{len(missing)} sent events are not in the log, e.g. {missing[:3]}"
    assert not dupes, f"{len(dupes)} events are in the log more than once, e.g. {dupes[:3]}"

    for event in sent:
        got = by_id[event["messageId"]]
        sent_at = event.pop("__sentAt")
        expected = {k: v for k, v in event.items() if k not in SERVER_FIELDS}
        # null ids are dropped by normalization; the collector adds the connection's ip
        for id_field in ("userId", "anonymousId"):
            if expected.get(id_field) is None:
                expected.pop(id_field, None)
        expected_ctx = dict(expected.get("context", {}))
        got_ctx = dict(got.get("context", {}))
        got_ctx.pop("ip", None)
        assert got_ctx == expected_ctx, f"context changed for {event['type']}"
        rest = {k: v for k, v in got.items() if k not in SERVER_FIELDS and k != "context"}
        expected.pop("context", None)
        assert rest == expected, f"{event['type']} {event['messageId']} not stored as sent"

        # normalization
        received = _ts(got["receivedAt"])
        assert abs(received - datetime.now(UTC)) < timedelta(minutes=2)
        assert got["originalTimestamp"] == event["timestamp"]
        # clock skew correction: same clock on both sides, so timestamp = sent timestamp + latency
        skew = _ts(got["timestamp"]) - _ts(event["timestamp"])
        assert timedelta(milliseconds=-1) <= skew < timedelta(seconds=10), skew
        assert _ts(got["sentAt"]) == _ts(sent_at).replace(microsecond=_ts(sent_at).microsecond // 1000 * 1000)
        assert got["_hw"]["source"] == source
        expected_type = event["event"] if event["type"] == "track" else event["type"]
        assert got["_hw"]["event_type"] == expected_type
        if event.get("properties", {}).get("tool_id"):
            assert got["_hw"]["tool_id"] == event["properties"]["tool_id"]


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def assert_no_quarantine(server: Server) -> None:
    quarantined = read_log(server.data_dir, "quarantine")
    assert quarantined == [], f"quarantine is not empty: {quarantined[:2]}"


class Errors:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, exc: Exception, batch: list[Any]) -> None:
        self.seen.append(f"{exc!r} on a batch of {len(batch)}")


@pytest.fixture(scope="module")
def sources(server: Server) -> dict[str, str]:
    return {name: create_key(server.data_dir, name) for name in ("segment-src", "rudder-src", "body-src")}


# -- the tests ----------------------------------------------------------------------------------
@pytest.mark.parametrize("use_gzip", [False, True], ids=["plain", "gzip"])
def test_segment_client(
    server: Server, sources: dict[str, str], tap: Callable[..., Tap], use_gzip: bool
) -> None:
    t = tap()
    errors = Errors()
    client = analytics.Client(
        sources["segment-src"], host=t.url, gzip=use_gzip, on_error=errors, max_retries=2, timeout=10
    )
    try:
        ids = drive(client, n_users=14)  # 140 events: more than one batch of 100
        client.flush()
    finally:
        client.shutdown()
    assert errors.seen == []
    assert len(t.exchanges) >= 2, "expected the client to split 140 events into several batches"
    for ex in t.exchanges:
        assert ex.status == 200, ex.response
        assert ex.path == "/v1/batch"
        assert ex.headers["authorization"].startswith("Basic ")
        assert ex.json_body()["writeKey"] == sources["segment-src"]
        assert (ex.headers.get("content-encoding") == "gzip") is use_gzip
        if use_gzip:
            assert ex.raw_body[:2] == b"\x1f\x8b"
        answer = json.loads(ex.response)
        assert answer["success"] is True
        assert answer["rejected"] == []
        assert answer["accepted"] == len(ex.json_body()["batch"])
    check_log_matches(server, t.sent_events(), ids, "segment-src")
    assert_no_quarantine(server)


def test_body_write_key_alone(server: Server, sources: dict[str, str], tap: Callable[..., Tap]) -> None:
    """The Segment client behind a proxy that drops Authorization: the body's writeKey must do."""
    t = tap(strip_auth=True)
    errors = Errors()
    client = analytics.Client(sources["body-src"], host=t.url, on_error=errors, max_retries=1, timeout=10)
    try:
        ids = drive(client, n_users=2)
        client.flush()
    finally:
        client.shutdown()
    assert errors.seen == []
    assert t.exchanges and all(ex.status == 200 for ex in t.exchanges)
    assert all("authorization" in ex.headers for ex in t.exchanges)  # the client did send it...
    check_log_matches(server, t.sent_events(), ids, "body-src")  # ...but the body's key was used
    assert_no_quarantine(server)


def test_rudder_client(server: Server, sources: dict[str, str], tap: Callable[..., Tap]) -> None:
    t = tap()
    errors = Errors()
    assert rudder_analytics.Client.DefaultConfig.gzip is True  # gzip is the client's default
    client = rudder_analytics.Client(
        sources["rudder-src"], host=t.url, on_error=errors, max_retries=2, timeout=10
    )
    try:
        ids = drive(client, n_users=12)
        client.flush()
    finally:
        client.shutdown()
    assert errors.seen == []
    assert len(t.exchanges) >= 2
    for ex in t.exchanges:
        assert ex.status == 200, ex.response
        assert ex.path == "/v1/batch"
        assert ex.headers["content-encoding"] == "gzip"
        assert ex.raw_body[:2] == b"\x1f\x8b", "the rudder client is expected to gzip by default"
        body = ex.json_body()
        assert "writeKey" not in body  # only Basic auth carries the key
        assert ex.headers["authorization"].startswith("Basic ")
        assert all(e["channel"] == "server" for e in body["batch"])
        answer = json.loads(ex.response)
        assert answer["success"] is True and answer["rejected"] == []
    sent = t.sent_events()
    identify = [e for e in sent if e["type"] == "identify"]
    assert identify and all("traits" not in e and e["context"]["traits"] for e in identify)
    check_log_matches(server, sent, ids, "rudder-src")
    assert_no_quarantine(server)


def test_module_level_configuration(
    server: Server, sources: dict[str, str], tap: Callable[..., Tap], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both SDKs configured the way their READMEs say: module settings, rudder's dataPlaneUrl."""
    seg_tap, rud_tap = tap(), tap()
    errors = Errors()
    monkeypatch.setattr(analytics, "write_key", sources["segment-src"])
    monkeypatch.setattr(analytics, "host", seg_tap.url)
    monkeypatch.setattr(analytics, "gzip", True)
    monkeypatch.setattr(analytics, "on_error", errors)
    monkeypatch.setattr(analytics, "default_client", None)
    monkeypatch.setattr(rudder_analytics, "write_key", sources["rudder-src"])
    monkeypatch.setattr(rudder_analytics, "dataPlaneUrl", rud_tap.url)
    monkeypatch.setattr(rudder_analytics, "on_error", errors)
    monkeypatch.setattr(rudder_analytics, "default_client", None)
    try:
        seg_ids = drive(analytics, n_users=2, explicit_ids=True)
        rud_ids = drive(rudder_analytics, n_users=2, explicit_ids=True)
        analytics.flush()
        rudder_analytics.flush()
    finally:
        analytics.shutdown()
        rudder_analytics.shutdown()
    assert errors.seen == []
    assert seg_tap.exchanges and all(ex.headers["content-encoding"] == "gzip" for ex in seg_tap.exchanges)
    assert rud_tap.exchanges and all(ex.headers["content-encoding"] == "gzip" for ex in rud_tap.exchanges)
    check_log_matches(server, seg_tap.sent_events(), seg_ids, "segment-src")
    check_log_matches(server, rud_tap.sent_events(), rud_ids, "rudder-src")
    assert_no_quarantine(server)


def test_clients_sent_nothing_else(server: Server) -> None:
    """A guard on the module's server: no request was refused, nothing went to quarantine."""
    assert_no_quarantine(server)
    assert all(isinstance(e, dict) for e in read_log(server.data_dir))
    log_dir: Path = server.data_dir / "log"
    assert list(log_dir.glob("events-*.t.jsonl")), "the single worker writes as writer 't'"
